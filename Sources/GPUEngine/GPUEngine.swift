// GPUEngine module: see ../shared/DESIGN.md
