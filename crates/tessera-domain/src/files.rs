//! File rules: which contents are accepted (sniffed, never as declared), file names, and the
//! HTTP byte ranges and header values a download needs.

/// How many leading bytes [`sniff`] needs to decide.
pub const SNIFF_BYTES: usize = 512;

/// The content type of a file from its first bytes, if it is one Tessera accepts: images for
/// event pages and chat attachments (PNG, JPEG, GIF, WebP), PDF, and plain UTF-8 text.
/// Anything else (executables, HTML, archives, unknown) is refused.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 6] = [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"RIFF", "image/webp"),
    ];
    for (magic, ty) in MAGIC {
        if head.starts_with(magic) {
            if ty == "image/webp" && head.get(8..12) != Some(b"WEBP") {
                return None;
            }
            return Some(ty);
        }
    }
    text(head).then_some("text/plain; charset=utf-8")
}

/// UTF-8 text with no control characters but whitespace (a character cut at the end of the
/// sample is fine); not markup a browser would run.
fn text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    let start = valid.trim_start().get(..5).unwrap_or("").to_ascii_lowercase();
    !head.is_empty()
        && !valid.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        && !start.starts_with("<html")
        && !start.starts_with("<!doc")
        && !start.starts_with("<svg")
        && !start.starts_with("<?xml")
}

/// Whether a browser may show the type inline (images and PDF; text is downloaded).
pub fn inline(content_type: &str) -> bool {
    content_type.starts_with("image/") || content_type == "application/pdf"
}

/// A file name as kept: its last path segment, control characters removed, at most 255
/// characters; `file` when nothing is left.
pub fn clean_filename(name: Option<&str>) -> String {
    let last = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let cleaned = cleaned.trim().trim_matches('.').to_string();
    if cleaned.is_empty() { "file".to_string() } else { cleaned }
}

/// `Content-Disposition` for a file: inline or as an attachment, with an ASCII fallback name and
/// the exact name in RFC 5987 form.
pub fn content_disposition(filename: &str, inline: bool) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// The whole file (no header, or one this server ignores: several ranges, another unit).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that lies outside the file (416).
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against a file's size.
pub fn range(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeAsk::Whole };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeAsk::Whole };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(size.saturating_sub(1)))),
        (Ok(_), Ok(_)) => return RangeAsk::Whole,
        (Ok(start), Err(_)) if b.is_empty() => Some((start, size.saturating_sub(1))),
        (Err(_), Ok(n)) if a.is_empty() => {
            if n == 0 {
                return RangeAsk::Unsatisfiable;
            }
            Some((size.saturating_sub(n), size.saturating_sub(1)))
        }
        _ => return RangeAsk::Whole,
    };
    match parsed {
        Some((start, end)) if size > 0 && start < size => RangeAsk::Part { start, end },
        _ => RangeAsk::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_sniffed_against_the_allow_list() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None, "a WAV is not an image");
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff("こんにちは, hello\n".as_bytes()), Some("text/plain; charset=utf-8"));
        // A character cut at the end of the sample is still text.
        assert!(sniff(&"こ".as_bytes()[..2]).is_some());
        for bad in [
            &b"MZ\x90\0\x03"[..],
            b"\x7fELF\x02\x01",
            b"PK\x03\x04",
            b"<html><script>",
            b"  <!DOCTYPE html>",
            b"<svg onload=x>",
            b"",
            b"\0\0\0\0",
        ] {
            assert_eq!(sniff(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_are_cleaned_and_disposed() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\Users\\me\\photo.png")), "photo.png");
        assert_eq!(clean_filename(Some("a\u{0}b\nc.txt")), "abc.txt");
        assert_eq!(clean_filename(Some("..")), "file");
        assert_eq!(clean_filename(None), "file");
        assert_eq!(clean_filename(Some(&"x".repeat(300))).len(), 255);
        assert_eq!(
            content_disposition("写真 1.png", true),
            "inline; filename=\"__ 1.png\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%201.png"
        );
        assert!(content_disposition("a\"b.txt", false).starts_with("attachment; filename=\"a_b.txt\""));
    }

    #[test]
    fn ranges_are_read_against_the_size() {
        assert_eq!(range(None, 100), RangeAsk::Whole);
        assert_eq!(range(Some("bytes=0-9"), 100), RangeAsk::Part { start: 0, end: 9 });
        assert_eq!(range(Some("bytes=90-"), 100), RangeAsk::Part { start: 90, end: 99 });
        assert_eq!(range(Some("bytes=-10"), 100), RangeAsk::Part { start: 90, end: 99 });
        assert_eq!(range(Some("bytes=50-500"), 100), RangeAsk::Part { start: 50, end: 99 });
        assert_eq!(range(Some("bytes=100-"), 100), RangeAsk::Unsatisfiable);
        assert_eq!(range(Some("bytes=-0"), 100), RangeAsk::Unsatisfiable);
        assert_eq!(range(Some("bytes=0-1,5-6"), 100), RangeAsk::Whole);
        assert_eq!(range(Some("items=0-1"), 100), RangeAsk::Whole);
        assert_eq!(range(Some("bytes=9-3"), 100), RangeAsk::Whole);
        assert_eq!(range(Some("bytes=0-0"), 0), RangeAsk::Unsatisfiable);
    }
}
