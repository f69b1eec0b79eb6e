//! Compiles the PostgreSQL variants of the tests as ignored unless TESSERA_TEST_DATABASE_URL is
//! set, so a run without a server shows them as skipped rather than passed; recompiles the crate
//! when a migration is added.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(tessera_pg)");
    println!("cargo::rerun-if-env-changed=TESSERA_TEST_DATABASE_URL");
    // sqlx::migrate! embeds the migrations when the crate compiles: a new migration file alone
    // must recompile it.
    println!("cargo::rerun-if-changed=migrations");
    if std::env::var_os("TESSERA_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tessera_pg");
    }
}
