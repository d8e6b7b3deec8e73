-- The audit store's database and roles, run by `dev up --postgres` at every start and by the
-- compose service once (psql; safe to run again: each step checks first).
--   pipeline         owns the database `orders`: the storage service writes with it (CREATEDB
--                    lets test sessions make throwaway databases)
--   pipeline_reader  reads everything, writes nothing: for queries (not a superuser)
SELECT 'CREATE ROLE pipeline LOGIN CREATEDB'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pipeline') \gexec
SELECT 'CREATE ROLE pipeline_reader LOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pipeline_reader') \gexec
GRANT pg_read_all_data TO pipeline_reader;
ALTER ROLE pipeline_reader SET default_transaction_read_only = on;
SELECT 'CREATE DATABASE orders OWNER pipeline'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'orders') \gexec
