// Datasets module: see ../shared/DESIGN.md
