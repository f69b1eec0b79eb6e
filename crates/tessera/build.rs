//! Compiles the PostgreSQL variants of the tests as ignored unless TESSERA_TEST_DATABASE_URL is
//! set, so a run without a server shows them as skipped rather than passed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(tessera_pg)");
    println!("cargo::rerun-if-env-changed=TESSERA_TEST_DATABASE_URL");
    if std::env::var_os("TESSERA_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tessera_pg");
    }
}
