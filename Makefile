# geocluster: PGXS build of two extensions from one tree.
#
#   make                 build geocluster.so (C++17) and the install scripts
#   make install         install into the PostgreSQL that pg_config names
#   make installcheck    pg_regress suites in test/sql/ against a running server, then the TAP tests
#                        test/t/*.pl (each starts servers of its own; see scripts/test)
#   make prove_installcheck   the TAP tests alone (PROVE_TESTS=test/t/NNN_name.pl for one)
#   make WERROR=1        what CI builds: warnings are errors
#
# Layout (mirrors the architecture):
#   src/core/   pure C++17, no PostgreSQL header (compile-time guard in src/core/core.hpp)
#   src/pg/     fmgr glue; the only code that includes postgres.h; one error boundary
#   src/sql/<extension>/NN_*.sql   the one source of the install scripts, concatenated in order
#   test/sql/, test/expected/   pg_regress suites (--inputdir=test), discovered by wildcard
#   test/t/           TAP tests (PostgreSQL::Test::Cluster), discovered by wildcard
#   test/unit, test/fuzz, test/integration, test/django   the other suites (scripts/test runs all)

EXTENSION    = geocluster geocluster_postgis
# The version has one source, geocluster.control's default_version: the install scripts' names,
# the library's geocluster_version() and `make dist` take it from there (META.json must agree:
# test/integration/meta_json.sh checks it, and `make dist` refuses a mismatch).
EXTVERSION  := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(dir $(lastword $(MAKEFILE_LIST)))geocluster.control)

MODULE_big   = geocluster
CORE_SRCS    = $(sort $(wildcard src/core/*.cpp))
GLUE_SRCS    = $(sort $(wildcard src/pg/*.cpp))
OBJS         = src/pg/module.o $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

# The current version's install scripts are generated from their pieces. Released versions'
# install scripts are frozen, byte for byte as released, in src/sql/frozen/ (a supported start
# version for ALTER EXTENSION UPDATE). The upgrade scripts (geocluster--A--B.sql) are generated
# from src/sql/upgrade/*.sql.in by scripts/sql-include, which pastes in the pieces that an upgrade
# creates whole, so that they cannot drift from the install script.
INSTALL_SQL  = geocluster--$(EXTVERSION).sql geocluster_postgis--$(EXTVERSION).sql
UPGRADE_SQL  = $(notdir $(patsubst %.sql.in,%.sql,$(sort $(wildcard src/sql/upgrade/*.sql.in))))
DATA_built   = $(INSTALL_SQL) $(UPGRADE_SQL)
DATA         = $(sort $(wildcard src/sql/frozen/*.sql))
EXTRA_CLEAN  = $(INSTALL_SQL) $(UPGRADE_SQL) results regression.diffs regression.out dist

REGRESS      = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test
# pg_regress works in a database named after the module (contrib_regression_geocluster), which
# it drops and creates; PGXS ignores a CONTRIB_TESTDB set here, this is its own switch.
USE_MODULE_DB = 1

# TAP tests: every test/t/*.pl, after pg_regress in `make installcheck`.
TAP_TESTS    = 1
PROVE_TESTS  = test/t/*.pl

PG_CONFIG   ?= pg_config

# The server headers are included as system headers: they do not build clean under -Wextra
# (unused parameters in inline functions), and their warnings are not ours to fix.
PG_CPPFLAGS  = -I$(srcdir)/src/core -I$(srcdir)/src/pg -isystem $(shell $(PG_CONFIG) --includedir-server)
PG_CPPFLAGS += -DGEOCLUSTER_VERSION='"$(EXTVERSION)"'
# C++ only: the standard, and -Wno-register because PostgreSQL headers still use `register`.
PG_CXXFLAGS  = -std=c++17 -Wextra -Wno-register -Wno-missing-field-initializers
# A module is never interposed on: calls within a file may be direct and inlined (with -fPIC
# alone, GCC calls every external function, even one defined beside the caller, through the PLT;
# cluster_agg's per-row path makes several such calls per row).
PG_CXXFLAGS += -fno-semantic-interposition
PG_CFLAGS    = -Wextra
ifeq ($(WERROR),1)
PG_CXXFLAGS += -Werror
PG_CFLAGS   += -Werror
endif
# Link with the C++ runtime: the core uses the standard library and exceptions reach the
# error boundary, so libstdc++ must be loaded with the module.
SHLIB_LINK  += -lstdc++

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# JIT: Debian's PostgreSQL is built --with-llvm, so PGXS also compiles every source to LLVM
# bitcode with clang for inlining into JIT-compiled expressions. We keep that on (the
# comparators and constructors are small and inline well), but PGXS's C++ bitcode rule does
# not see PG_CXXFLAGS, so the C++ standard is given to it here.
BITCODE_CXXFLAGS += -std=c++17 -Wno-register

# The core is compiled without PostgreSQL's include directories (the second half of the guard
# in src/core/core.hpp): a server header in src/core/ fails to build.
$(CORE_SRCS:.cpp=.o) $(CORE_SRCS:.cpp=.bc): override CPPFLAGS := -I$(srcdir)/src/core -D_GNU_SOURCE

# Every object depends on every header: the tree is small and a stale object is worse than a
# rebuild.
$(OBJS): $(wildcard src/core/*.hpp src/pg/*.hpp)
# geocluster_version() is compiled with the control file's version.
src/pg/version.o src/pg/version.bc: geocluster.control

# PostgreSQL::Test::Cluster runs initdb and the servers as the user running prove, and
# PostgreSQL refuses to run as root: as root (CI), scripts/tap-prove runs the same prove as the
# `postgres` account, on a copy of the tree that account can read.
ifeq ($(shell id -u),0)
prove_installcheck = PATH="$(bindir):$$PATH" scripts/tap-prove $(PG_PROVE_FLAGS) $(PROVE_FLAGS) $(PROVE_TESTS)
endif

# The TAP tests alone (no running server needed: each test starts its own).
.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

geocluster--$(EXTVERSION).sql: $(sort $(wildcard src/sql/geocluster/*.sql))
	cat $^ > $@

geocluster_postgis--$(EXTVERSION).sql: $(sort $(wildcard src/sql/geocluster_postgis/*.sql))
	cat $^ > $@

$(UPGRADE_SQL): %.sql: src/sql/upgrade/%.sql.in scripts/sql-include $(wildcard src/sql/*/*.sql)
	scripts/sql-include $< > $@

# The current version's install scripts and a supported start version's frozen one must not have
# the same name (a bump without freezing would install the generated script over the frozen one).
ifneq ($(wildcard src/sql/frozen/geocluster--$(EXTVERSION).sql),)
$(error src/sql/frozen/ holds geocluster--$(EXTVERSION).sql, the version being built: bump default_version)
endif

# `make dist`: the PGXN release zip of the committed tree (HEAD), named by the control file's
# version; META.json, which PGXN reads, must carry that version for both extensions.
.PHONY: dist
dist:
	@for ext in $(EXTENSION); do \
	  v=$$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" $$ext.control); \
	  [ "$$v" = "$(EXTVERSION)" ] || { echo "$$ext.control has $$v, geocluster.control $(EXTVERSION)" >&2; exit 1; }; \
	done
	@python3 -c 'import json,sys; m=json.load(open("META.json")); v=sys.argv[1]; \
	  bad=[k for k,p in m["provides"].items() if p["version"]!=v or p["file"]!=k+"--"+v+".sql"]; \
	  sys.exit("META.json: version %s, provides %s do not match %s" % (m["version"], bad, v) if m["version"]!=v or bad else 0)' $(EXTVERSION)
	mkdir -p dist
	git archive --format zip --prefix=geocluster-$(EXTVERSION)/ --output dist/geocluster-$(EXTVERSION).zip HEAD
