//! Compiles the PostgreSQL variants of the tests as ignored unless TESSERA_TEST_DATABASE_URL is
//! set, so a run without a server shows them as skipped rather than passed.
///
/// The e-mail tests need python3 (for the aiosmtpd SMTP server they install and start): without
/// it they are compiled as ignored too.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(tessera_smtp)");
    println!("cargo::rerun-if-env-changed=PATH");
    let python = std::process::Command::new("python3").arg("--version").output();
    if python.is_ok_and(|o| o.status.success()) {
        println!("cargo::rustc-cfg=tessera_smtp");
    }
    println!("cargo::rustc-check-cfg=cfg(tessera_pg)");
    println!("cargo::rerun-if-env-changed=TESSERA_TEST_DATABASE_URL");
    if std::env::var_os("TESSERA_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tessera_pg");
    }
}
