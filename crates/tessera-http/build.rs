//! Compiles the PostgreSQL variants of the tests as ignored unless TESSERA_TEST_DATABASE_URL is
//! set, so a run without a server shows them as skipped rather than passed.
///
/// The e-mail tests need python3 (for the aiosmtpd SMTP server they install and start), and the
/// browser test Chromium: without them they are compiled as ignored too.
fn main() {
    vendor::fetch_all();
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
    // The printable ticket's test reads PDFs back with poppler and needs the CJK font they embed.
    println!("cargo::rustc-check-cfg=cfg(tessera_cjk_pdf)");
    println!("cargo::rerun-if-env-changed=TESSERA_PDF_FONT");
    let font = std::env::var_os("TESSERA_PDF_FONT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc".into());
    if font.is_file()
        && ["pdftotext", "pdffonts", "pdftoppm"]
            .iter()
            .all(|n| std::env::split_paths(&path).any(|dir| dir.join(n).is_file()))
    {
        println!("cargo::rustc-cfg=tessera_cjk_pdf");
    }
    println!("cargo::rustc-check-cfg=cfg(tessera_pg)");
    println!("cargo::rerun-if-env-changed=TESSERA_TEST_DATABASE_URL");
    if std::env::var_os("TESSERA_TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=tessera_pg");
    }
}

/// The pages' third-party scripts from the npm registry (see web/vendor.txt): each package's
/// tarball is fetched with curl (as utoipa-swagger-ui's build fetches its UI), checked against
/// its sha512 integrity, and unpacked with tar into OUT_DIR, where the crate embeds the named
/// file and the licence. A build that cannot reach the registry still succeeds: it warns, and the
/// pages work without the scripts (their forms are plain HTML forms).
mod vendor {
    use base64::Engine;
    use sha2::{Digest, Sha512};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    pub fn fetch_all() {
        println!("cargo::rerun-if-changed=web/vendor.txt");
        println!("cargo::rerun-if-env-changed=TESSERA_WEB_VENDOR_DIR");
        println!("cargo::rerun-if-env-changed=TESSERA_NPM_REGISTRY");
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("vendor");
        let _ = std::fs::create_dir_all(&out);
        let list = std::fs::read_to_string("web/vendor.txt").unwrap_or_default();
        let mut notices = String::new();
        for line in list.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [name, version, file, _used, integrity] = f[..] else { continue };
            let base = file.rsplit('/').next().unwrap_or(file);
            let target = out.join(base);
            match fetch(name, version, file, integrity, &out) {
                Ok(licence) => {
                    let heading = format!("== {name} {version} (npm) ==");
                    if !notices.contains(&heading) {
                        notices.push_str(&format!("{heading}\n\n{licence}\n\n"));
                    }
                }
                Err(why) => {
                    println!("cargo::warning=web page script {name}@{version} unavailable: {why}");
                    let stub =
                        format!("/* {name} {version} was not available when this binary was built */\n");
                    let _ = std::fs::write(&target, stub);
                }
            }
        }
        let _ = std::fs::write(out.join("THIRD-PARTY.txt"), notices);
    }

    /// Puts the package's file at OUT_DIR/vendor/<basename>; its licence text.
    fn fetch(name: &str, version: &str, file: &str, integrity: &str, out: &Path) -> Result<String, String> {
        let base = file.rsplit('/').next().unwrap_or(file);
        if let Some(dir) = std::env::var_os("TESSERA_WEB_VENDOR_DIR") {
            let from = Path::new(&dir).join(base);
            std::fs::copy(&from, out.join(base)).map_err(|e| format!("{}: {e}", from.display()))?;
            return Ok(format!("(from {})", from.display()));
        }
        let unpacked = out.join(format!("{name}-{version}"));
        let marker = unpacked.join(".verified");
        if !marker.exists() {
            let registry =
                std::env::var("TESSERA_NPM_REGISTRY").unwrap_or_else(|_| "https://registry.npmjs.org".into());
            let short = name.rsplit('/').next().unwrap_or(name);
            let url = format!("{}/{name}/-/{short}-{version}.tgz", registry.trim_end_matches('/'));
            let tgz = out.join(format!("{name}-{version}.tgz"));
            let ok = Command::new("curl")
                .args(["-fsSL", "--retry", "3", "--max-time", "120", "-o"])
                .arg(&tgz)
                .arg(&url)
                .status()
                .map_err(|e| format!("curl: {e}"))?;
            if !ok.success() {
                return Err(format!("curl {url} failed ({ok})"));
            }
            let bytes = std::fs::read(&tgz).map_err(|e| e.to_string())?;
            let digest = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bytes));
            if integrity != format!("sha512-{digest}") {
                let _ = std::fs::remove_file(&tgz);
                return Err(format!("{url} does not match its pinned integrity"));
            }
            let _ = std::fs::remove_dir_all(&unpacked);
            std::fs::create_dir_all(&unpacked).map_err(|e| e.to_string())?;
            let ok = Command::new("tar")
                .arg("-xzf")
                .arg(&tgz)
                .arg("-C")
                .arg(&unpacked)
                .status()
                .map_err(|e| format!("tar: {e}"))?;
            let _ = std::fs::remove_file(&tgz);
            if !ok.success() {
                return Err(format!("tar could not unpack {url}"));
            }
            std::fs::write(&marker, integrity).map_err(|e| e.to_string())?;
        }
        let package = unpacked.join("package");
        std::fs::copy(package.join(file), out.join(base)).map_err(|e| format!("{file}: {e}"))?;
        let licence = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"]
            .iter()
            .find_map(|l| std::fs::read_to_string(package.join(l)).ok())
            .unwrap_or_else(|| "(no licence file in the package)".into());
        Ok(licence)
    }
}
