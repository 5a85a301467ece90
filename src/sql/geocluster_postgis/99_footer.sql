-- The installer function of 00_header.sql has done its work; nothing of it stays behind.
DROP FUNCTION @extschema@.geocluster_postgis_install(text);
