/*
 * The module magic block lives in plain C: PG_MODULE_MAGIC expands to a C declaration that the
 * server looks up with dlsym, and keeping it here keeps every C++ file free of it.
 */
#include "postgres.h"
#include "fmgr.h"

PG_MODULE_MAGIC;
