-- BRIN minmax operator classes, the default BRIN classes of the two types: PostgreSQL's own
-- minmax support functions over the btree operators. BRIN serves `col <@ X` through the
-- planner support of 41_planner_index_conditions.sql, which turns it into
-- `col >= X AND col <= range end` for BRIN indexes as for btree ones. Worth it on tables loaded
-- in code order (CLUSTER or ORDER BY the cell), where each block range holds a narrow run of
-- codes.

-- The btree operators of 30_operators.sql under BRIN minmax's strategy numbers.
CREATE OPERATOR CLASS @extschema@.quadkey_minmax_ops
    DEFAULT FOR TYPE @extschema@.quadkey USING brin AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 pg_catalog.brin_minmax_opcinfo(internal),
        FUNCTION 2 pg_catalog.brin_minmax_add_value(internal, internal, internal, internal),
        FUNCTION 3 pg_catalog.brin_minmax_consistent(internal, internal, internal),
        FUNCTION 4 pg_catalog.brin_minmax_union(internal, internal, internal);

-- The geohash twin of the quadkey class above (SQL has no generic types).
CREATE OPERATOR CLASS @extschema@.geohash_minmax_ops
    DEFAULT FOR TYPE @extschema@.geohash USING brin AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 pg_catalog.brin_minmax_opcinfo(internal),
        FUNCTION 2 pg_catalog.brin_minmax_add_value(internal, internal, internal, internal),
        FUNCTION 3 pg_catalog.brin_minmax_consistent(internal, internal, internal),
        FUNCTION 4 pg_catalog.brin_minmax_union(internal, internal, internal);
