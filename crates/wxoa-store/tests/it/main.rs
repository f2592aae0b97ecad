//! Integration tests of wxoa-store, compiled as one binary: SQLite always, PostgreSQL and Redis
//! when `WXOA_TEST_POSTGRES_URL` / `WXOA_TEST_REDIS_URL` are set.

mod common;
mod console;
mod multiprocess;
mod postgres;
mod redis;
mod shared;
mod sqlite;
