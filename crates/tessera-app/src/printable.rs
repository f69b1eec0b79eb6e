//! The printable ticket: one A4 page (PDF) with the event, date, venue, holder, seat and the QR.
//!
//! Names are printed as written, in any script the configured font covers: the text is set in a
//! subset of that font (only the glyphs this ticket uses) embedded in the PDF, with a ToUnicode
//! map so the text can be searched and copied. The default font is Noto Sans CJK, which covers
//! Japanese, Chinese, Korean, Latin, Greek and Cyrillic; it is read from the system (Debian's
//! `fonts-noto-cjk`) rather than built into the binary, which it would double in size. Without a
//! font, the PDF falls back to the built-in Helvetica and prints '?' for what it cannot show.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use tessera_domain::records::TicketDetail;

use crate::{AppError, Result};

/// Where fonts with CJK coverage usually are (Debian/Ubuntu, Fedora, Arch, Alpine).
const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto/NotoSansCJK-Regular.ttc",
];

/// Which font printable tickets are set in (`TESSERA_PDF_FONT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PdfFont {
    /// The first of the usual system paths of Noto Sans CJK that exists; Helvetica when none.
    #[default]
    System,
    /// This font file (OpenType/TrueType, or a collection: its Japanese face, else its first).
    File(PathBuf),
    /// Helvetica only (non-Latin text prints as '?').
    Builtin,
}

impl PdfFont {
    /// `none` for Helvetica only, a path for that file, empty for the system's font.
    pub fn parse(s: &str) -> PdfFont {
        match s.trim() {
            "" => PdfFont::System,
            "none" => PdfFont::Builtin,
            path => PdfFont::File(PathBuf::from(path)),
        }
    }
}

/// Makes ticket PDFs; the font file is read on the first one, not at start-up (which it would
/// slow by the time it takes to read ~20 MB).
#[derive(Debug, Default)]
pub struct Printer {
    path: Option<PathBuf>,
    font: OnceLock<Option<Arc<FontFile>>>,
}

/// A font file's bytes and which of its faces to use.
struct FontFile {
    data: Vec<u8>,
    index: u32,
}

impl std::fmt::Debug for FontFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FontFile({} bytes, face {})", self.data.len(), self.index)
    }
}

impl Printer {
    /// A named file must exist (a typo should stop the start, not print '?' for months).
    pub fn new(choice: &PdfFont) -> Result<Printer> {
        let path = match choice {
            PdfFont::Builtin => None,
            PdfFont::System => SYSTEM_FONTS.iter().map(PathBuf::from).find(|p| p.is_file()),
            PdfFont::File(p) if p.is_file() => Some(p.clone()),
            PdfFont::File(p) => {
                return Err(AppError::internal(format!(
                    "TESSERA_PDF_FONT: {} is not a readable file",
                    p.display()
                )));
            }
        };
        Ok(Printer { path, font: OnceLock::new() })
    }

    /// The font file in use, if any.
    pub fn font_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn font(&self) -> Option<Arc<FontFile>> {
        self.font
            .get_or_init(|| {
                let path = self.path.as_ref()?;
                match load(path) {
                    Ok(f) => Some(Arc::new(f)),
                    Err(e) => {
                        tracing::warn!(font = %path.display(), error = %e, "ticket PDFs fall back to Helvetica");
                        None
                    }
                }
            })
            .clone()
    }

    /// A PDF of one ticket.
    pub fn ticket_pdf(&self, t: &TicketDetail, code: &str) -> Result<Vec<u8>> {
        ticket_pdf_with(t, code, self.font().as_deref())
    }
}

fn load(path: &Path) -> std::result::Result<FontFile, String> {
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let faces = ttf_parser::fonts_in_collection(&data).unwrap_or(1);
    let face_named = |i: u32| {
        let face = ttf_parser::Face::parse(&data, i).ok()?;
        face.names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
    };
    // A collection's Japanese face first: the seeds' festivals are Japanese.
    let index = (0..faces).find(|&i| face_named(i).is_some_and(|n| n.contains("JP"))).unwrap_or(0);
    match ttf_parser::Face::parse(&data, index) {
        Ok(face) if face.glyph_index('A').is_some() => Ok(FontFile { data, index }),
        Ok(_) => Err("the font has no Latin letters".into()),
        Err(e) => Err(format!("not a font: {e}")),
    }
}

/// The lines of a ticket: (font size, text).
fn lines(t: &TicketDetail) -> [(f32, String); 5] {
    let when = t.event_start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let seat = match (t.seat_number, &t.ticket_type_name) {
        (Some(n), _) => format!("Seat {n}"),
        (None, Some(name)) => name.clone(),
        (None, None) => "Admission".into(),
    };
    [
        (26.0, t.event_name.clone()),
        (14.0, when),
        (14.0, t.location.clone().unwrap_or_default()),
        (18.0, format!("{seat} - {}", t.guest_name.as_deref().unwrap_or(&t.holder_name))),
        (9.0, format!("Ticket {}", t.ticket_id)),
    ]
}

/// The page's text column: its left edge and width, in points.
const LEFT: f32 = 60.0;
const WIDTH: f32 = 475.0;

/// A PDF of one ticket, its text in `font` (Helvetica without one).
fn ticket_pdf_with(t: &TicketDetail, code: &str, font: Option<&FontFile>) -> Result<Vec<u8>> {
    let (catalog, tree, page_id, font_id, image, contents) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    let mut res = page.resources();
    res.fonts().pair(Name(b"F1"), font_id);
    res.x_objects().pair(Name(b"Im1"), image);
    res.finish();
    page.finish();
    // The QR at one pixel per module, scaled up by the page (crisp at any print size).
    let (side, pixels) = crate::qr::pixels(code, 1)?;
    let side_i32 = i32::try_from(side).unwrap_or(i32::MAX);
    let mut img = pdf.image_xobject(image, &pixels);
    img.width(side_i32);
    img.height(side_i32);
    img.color_space().device_gray();
    img.bits_per_component(8);
    img.interpolate(false);
    img.finish();

    let lines = lines(t);
    let shown: Vec<(f32, Vec<u8>)> = match font.and_then(|f| Embedded::new(f, &lines).ok()) {
        Some(embedded) => {
            let shown = lines.iter().map(|(size, text)| embedded.show(text, *size)).collect();
            embedded.write(&mut pdf, font_id, Ref::new(7))?;
            shown
        }
        None => {
            pdf.type1_font(font_id).base_font(Name(b"Helvetica"));
            lines.iter().map(|(size, text)| (*size, latin(text))).collect()
        }
    };
    let mut c = Content::new();
    let mut y = 780.0;
    for (size, bytes) in &shown {
        c.begin_text();
        c.set_font(Name(b"F1"), *size);
        c.next_line(LEFT, y);
        c.show(Str(bytes));
        c.end_text();
        y -= size * 1.8;
    }
    c.save_state();
    c.transform([300.0, 0.0, 0.0, 300.0, 147.5, 250.0]);
    c.x_object(Name(b"Im1"));
    c.restore_state();
    pdf.stream(contents, &c.finish());
    Ok(pdf.finish())
}

/// Text for the PDF's built-in Helvetica (WinAnsi): characters it cannot show become '?'.
fn latin(s: &str) -> Vec<u8> {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c as u8 } else { b'?' }).collect()
}

/// The subset of a font that a ticket's text needs, and how to address its glyphs.
struct Embedded {
    /// The subset font program (OpenType, its glyph ids renumbered from 0).
    program: Vec<u8>,
    cff: bool,
    /// Each character's glyph in the subset (a character the font lacks shows as '?').
    glyphs: BTreeMap<char, u16>,
    /// What each subset glyph reads as (for search and copy).
    unicode: BTreeMap<u16, char>,
    /// Each subset glyph's advance, in thousandths of the font size.
    widths: Vec<f32>,
    name: String,
    bbox: Rect,
    ascent: f32,
    descent: f32,
    cap_height: f32,
    italic_angle: f32,
}

impl Embedded {
    fn new(file: &FontFile, lines: &[(f32, String)]) -> std::result::Result<Embedded, String> {
        let face = ttf_parser::Face::parse(&file.data, file.index).map_err(|e| e.to_string())?;
        let scale = 1000.0 / f32::from(face.units_per_em());
        let question = face.glyph_index('?').ok_or("no '?' glyph")?;
        let mut remapper = subsetter::GlyphRemapper::new();
        let mut originals = BTreeMap::new();
        for c in lines.iter().flat_map(|(_, text)| text.chars()) {
            let (gid, shown) = match face.glyph_index(c) {
                Some(g) => (g, c),
                None => (question, '?'),
            };
            originals.insert(c, (gid, shown));
            remapper.remap(gid.0);
        }
        let program = subsetter::subset(&file.data, file.index, &remapper).map_err(|e| e.to_string())?;
        let mut widths = vec![0.0; usize::from(remapper.num_gids())];
        let (mut glyphs, mut unicode) = (BTreeMap::new(), BTreeMap::new());
        for (&c, &(gid, shown)) in &originals {
            let new = remapper.get(gid.0).ok_or("a glyph was not kept")?;
            glyphs.insert(c, new);
            unicode.insert(new, shown);
            if let Some(w) = widths.get_mut(usize::from(new)) {
                *w = f32::from(face.glyph_hor_advance(gid).unwrap_or(0)) * scale;
            }
        }
        let ps_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| "Font".into());
        let b = face.global_bounding_box();
        let s = |v: i16| f32::from(v) * scale;
        Ok(Embedded {
            name: format!(
                "{}+{}",
                subset_tag(&glyphs),
                ps_name.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "")
            ),
            cff: face.tables().cff.is_some(),
            bbox: Rect::new(s(b.x_min), s(b.y_min), s(b.x_max), s(b.y_max)),
            ascent: s(face.ascender()),
            descent: s(face.descender()),
            cap_height: s(face.capital_height().unwrap_or(face.ascender())),
            italic_angle: face.italic_angle(),
            program,
            glyphs,
            unicode,
            widths,
        })
    }

    /// The bytes that show `text` (two per glyph, Identity-H) and the size that fits the column.
    fn show(&self, text: &str, size: f32) -> (f32, Vec<u8>) {
        let mut bytes = Vec::with_capacity(text.len() * 2);
        let mut width = 0.0;
        for c in text.chars() {
            let g = self.glyphs.get(&c).copied().unwrap_or(0);
            bytes.extend_from_slice(&g.to_be_bytes());
            width += self.widths.get(usize::from(g)).copied().unwrap_or(0.0);
        }
        // A long event name shrinks to fit the page rather than running off it.
        let fits = if width > 0.0 { WIDTH * 1000.0 / width } else { size };
        (size.min(fits).max(6.0), bytes)
    }

    /// Writes the Type 0 font at `id` and its parts at the refs after `first`.
    fn write(&self, pdf: &mut Pdf, id: Ref, first: Ref) -> Result<()> {
        let (cid, descriptor, program, to_unicode) =
            (first, Ref::new(first.get() + 1), Ref::new(first.get() + 2), Ref::new(first.get() + 3));
        let name = Name(self.name.as_bytes());
        let info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
        pdf.type0_font(id)
            .base_font(name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(to_unicode);
        let mut font = pdf.cid_font(cid);
        font.subtype(if self.cff { CidFontType::Type0 } else { CidFontType::Type2 });
        font.base_font(name);
        font.system_info(info);
        font.font_descriptor(descriptor);
        if !self.cff {
            font.cid_to_gid_map_predefined(Name(b"Identity"));
        }
        font.widths().consecutive(0, self.widths.iter().copied());
        font.finish();
        let mut d = pdf.font_descriptor(descriptor);
        d.name(name)
            .flags(FontFlags::SYMBOLIC)
            .bbox(self.bbox)
            .italic_angle(self.italic_angle)
            .ascent(self.ascent)
            .descent(self.descent)
            .cap_height(self.cap_height)
            .stem_v(80.0);
        if self.cff {
            d.font_file3(program);
        } else {
            d.font_file2(program);
        }
        d.finish();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&self.program).map_err(|e| AppError::internal(format!("compressing a font: {e}")))?;
        let packed = z.finish().map_err(|e| AppError::internal(format!("compressing a font: {e}")))?;
        let mut stream = pdf.stream(program, &packed);
        stream.filter(Filter::FlateDecode);
        if self.cff {
            stream.pair(Name(b"Subtype"), Name(b"OpenType"));
        } else {
            stream.pair(Name(b"Length1"), i32::try_from(self.program.len()).unwrap_or(i32::MAX));
        }
        stream.finish();
        let mut cmap = UnicodeCmap::new(Name(b"Custom"), info);
        for (&g, &c) in &self.unicode {
            cmap.pair(g, c);
        }
        pdf.cmap(to_unicode, &cmap.finish());
        Ok(())
    }
}

/// The six capital letters that name a subset (PDF 9.6.4), from the glyphs it holds.
fn subset_tag(glyphs: &BTreeMap<char, u16>) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    glyphs.hash(&mut h);
    let mut n = Hasher::finish(&h);
    (0..6)
        .map(|_| {
            let c = char::from(b'A' + u8::try_from(n % 26).unwrap_or(0));
            n /= 26;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helvetica_shows_what_it_can_and_a_question_mark_for_the_rest() {
        assert_eq!(latin("Seat 7 - 山田"), b"Seat 7 - ??".to_vec());
    }

    #[test]
    fn a_named_font_that_is_not_there_stops_the_start() {
        let missing = PdfFont::File("/nonexistent/font.ttc".into());
        assert!(Printer::new(&missing).is_err());
        assert_eq!(PdfFont::parse("none"), PdfFont::Builtin);
        assert_eq!(PdfFont::parse(""), PdfFont::System);
        assert!(Printer::new(&PdfFont::Builtin).unwrap().font_path().is_none());
    }

    #[test]
    fn subset_tags_are_six_capitals_and_follow_the_glyphs() {
        let a = BTreeMap::from([('a', 1u16)]);
        let b = BTreeMap::from([('b', 1u16)]);
        let tag = subset_tag(&a);
        assert!(tag.len() == 6 && tag.chars().all(|c| c.is_ascii_uppercase()));
        assert_eq!(tag, subset_tag(&a));
        assert_ne!(tag, subset_tag(&b));
    }
}
