//! Compiles the PostgreSQL variants of the tests as ignored unless TESSERA_TEST_DATABASE_URL is
//! set, so a run without a server shows them as skipped rather than passed.
///
/// The e-mail tests need python3 (for the aiosmtpd SMTP server they install and start), and the
/// browser test Chromium: without them they are compiled as ignored too.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(tessera_smtp)");
    println!("cargo::rerun-if-env-changed=PATH");
    // Looked up on PATH, not run: a build script should not start other programs.
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| dir.join("python3").is_file()) {
        println!("cargo::rustc-cfg=tessera_smtp");
    }
    // The browser test needs Chromium (Debian's chromium): without it, it is compiled as ignored.
    println!("cargo::rustc-check-cfg=cfg(tessera_chromium)");
    println!("cargo::rerun-if-env-changed=TESSERA_CHROMIUM");
    let chromium = ["chromium", "chromium-browser"];
    if std::env::var_os("TESSERA_CHROMIUM").is_some()
        || std::env::split_paths(&path).any(|dir| chromium.iter().any(|n| dir.join(n).is_file()))
    {
        println!("cargo::rustc-cfg=tessera_chromium");
    }
    println!("cargo::rustc-check-cfg=cfg(tessera_pg)");
    println!("cargo::rerun-if-env-changed=TESSERA_TEST_DATABASE_URL");
    if std::env::var_os("TESSERA_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tessera_pg");
    }
}
