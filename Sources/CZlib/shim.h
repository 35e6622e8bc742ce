// zlib, for reading gzipped IDX and CSV files (Foundation on Linux has no gzip API).
#include <zlib.h>
