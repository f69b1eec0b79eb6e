//! The printable ticket: one A4 page (PDF) with the event, date, venue, holder, seat and the QR.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use tessera_domain::records::TicketDetail;

use crate::Result;

/// Text for the PDF's built-in Helvetica (WinAnsi): characters it cannot show become '?'.
/// (Names in other scripts need an embedded font; the QR code is what the door reads.)
fn latin(s: &str) -> Vec<u8> {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c as u8 } else { b'?' }).collect()
}

/// A PDF of one ticket.
pub fn ticket_pdf(t: &TicketDetail, code: &str) -> Result<Vec<u8>> {
    let (catalog, tree, page_id, font, image, contents) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    let mut res = page.resources();
    res.fonts().pair(Name(b"F1"), font);
    res.x_objects().pair(Name(b"Im1"), image);
    res.finish();
    page.finish();
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
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
    let when = t.event_start.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    let seat = match (t.seat_number, &t.ticket_type_name) {
        (Some(n), _) => format!("Seat {n}"),
        (None, Some(name)) => name.clone(),
        (None, None) => "Admission".into(),
    };
    let lines: [(f32, String); 5] = [
        (26.0, t.event_name.clone()),
        (14.0, when),
        (14.0, t.location.clone().unwrap_or_default()),
        (18.0, format!("{seat} - {}", t.guest_name.as_deref().unwrap_or(&t.holder_name))),
        (9.0, format!("Ticket {}", t.ticket_id)),
    ];
    let mut c = Content::new();
    let mut y = 780.0;
    for (size, text) in &lines {
        c.begin_text();
        c.set_font(Name(b"F1"), *size);
        c.next_line(60.0, y);
        c.show(Str(&latin(text)));
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
