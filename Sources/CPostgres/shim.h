#ifndef AFSEARCH_CPOSTGRES_SHIM_H
#define AFSEARCH_CPOSTGRES_SHIM_H
// libpq, PostgreSQL's own client library (Debian: libpq-dev). It reads the connection URL, the PG* variables,
// ~/.pgpass and sslmode exactly as psql does.
#include <libpq-fe.h>
#endif
