//! The per-student PDF report a school files after review: who, the
//! decision and its history, the summary, the session, every incident with
//! its reading and evidence thumbnail, appeals and the conversation.
//!
//! Pure: a record and the thumbnails' bytes in, PDF bytes out. Written with
//! `pdf-writer` (typst's low-level PDF writer): evidence frames are JPEGs
//! already, so they are embedded as they are (DCTDecode) without decoding;
//! text is set in DejaVu Sans, embedded as a subset (`font`), so names,
//! notes and chat in any script the face covers print and copy out as
//! written.

mod font;

use font::ReportFont;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use vigil_proto::UnixMillis;
use vigil_proto::review::{IncidentVerdict, StudentReview, Verdict};
use vigil_proto::{IncidentId, IncidentSource};

/// One incident's evidence frame, as stored (a JPEG).
#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub incident: IncidentId,
    pub jpeg: Vec<u8>,
}

/// One incident's sound clip: a PDF cannot play it, so the report says it
/// is kept and how long it is.
#[derive(Debug, Clone)]
pub struct ClipNote {
    pub incident: IncidentId,
    pub duration_ms: u32,
}

/// The evidence a report shows or names: the first [`MAX_THUMBNAILS`]
/// frames, the frames kept beyond those (named, not loaded), and the clips.
#[derive(Debug, Clone, Default)]
pub struct ReportEvidence {
    pub thumbnails: Vec<Thumbnail>,
    pub not_shown: Vec<IncidentId>,
    pub clips: Vec<ClipNote>,
}

/// At most this many thumbnails in one report: the rest are named.
pub const MAX_THUMBNAILS: usize = 60;

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const LEADING: f32 = 14.0;
const BODY: f32 = 10.0;
const THUMB_W: f32 = 96.0;
const THUMB_H: f32 = 72.0;
/// Width of a body line (A4 less the margins).
const LINE_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Indent of a line that belongs to the one above.
const INDENT: f32 = 16.0;

fn when(ms: UnixMillis) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string().replace('T', " ").replace('Z', " UTC")
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::NoConcern => "no concern",
        Verdict::Concern => "concern",
        Verdict::Violation => "violation",
    }
}

/// Splits `text` into lines no wider than `width` as `measure` tells, at
/// spaces where it can; a word wider than a line is cut.
fn wrap(text: &str, width: f32, measure: impl Fn(&str) -> f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            if !line.is_empty() && measure(&format!("{line} {word}")) > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            while measure(&line) > width {
                // The longest head that fits (at least one character).
                let mut cut = line.char_indices().skip(1).map(|(i, _)| i).chain([line.len()]);
                let mut fits = cut.next().unwrap_or(line.len());
                for end in cut {
                    if measure(&line[..end]) > width {
                        break;
                    }
                    fits = end;
                }
                let rest = line.split_off(fits);
                lines.push(std::mem::replace(&mut line, rest));
            }
        }
        lines.push(line);
    }
    lines
}

/// Pages of content built top to bottom, starting a new page when full.
struct Layout {
    regular: ReportFont,
    bold: ReportFont,
    pages: Vec<Content>,
    /// Images each page draws: (resource name, image index).
    images: Vec<Vec<(String, usize)>>,
    y: f32,
}

impl Layout {
    fn new() -> Self {
        let mut l = Layout {
            regular: ReportFont::regular(),
            bold: ReportFont::bold(),
            pages: Vec::new(),
            images: Vec::new(),
            y: 0.0,
        };
        l.new_page();
        l
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.images.push(Vec::new());
        self.y = PAGE_H - MARGIN;
    }

    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page")
    }

    /// One line (not wrapped) in the regular face, or the bold one.
    fn text(&mut self, bold: bool, size: f32, indent: f32, text: &str) {
        let leading = size.max(BODY) * 1.4;
        self.room(leading);
        self.y -= leading;
        let y = self.y;
        let (name, font) = if bold { (b"F2", &mut self.bold) } else { (b"F1", &mut self.regular) };
        let glyphs = font.encode(text);
        self.pages
            .last_mut()
            .expect("a page")
            .begin_text()
            .set_font(Name(name), size)
            .next_line(MARGIN + indent, y)
            .show(Str(&glyphs))
            .end_text();
    }

    fn wrapped(&mut self, indent: f32, text: &str) {
        for l in wrap(text, LINE_W - indent, |t| self.regular.width(t, BODY)) {
            self.text(false, BODY, indent, &l);
        }
    }

    fn line(&mut self, text: &str) {
        self.wrapped(0.0, text);
    }

    fn indented(&mut self, text: &str) {
        self.wrapped(INDENT, text);
    }

    fn heading(&mut self, text: &str) {
        self.room(3.0 * LEADING);
        self.y -= LEADING / 2.0;
        self.text(true, 12.0, 0.0, text);
    }

    /// Draws image `index` (`w`×`h` pixels) as a thumbnail below the last line.
    fn image(&mut self, index: usize, w: u32, h: u32) {
        let scale = (THUMB_W / w as f32).min(THUMB_H / h as f32);
        let (dw, dh) = (w as f32 * scale, h as f32 * scale);
        self.room(dh + 6.0);
        self.y -= dh + 6.0;
        let name = format!("Im{index}");
        let y = self.y;
        self.page()
            .save_state()
            .transform([dw, 0.0, 0.0, dh, MARGIN + INDENT, y])
            .x_object(Name(name.as_bytes()))
            .restore_state();
        self.images.last_mut().expect("a page").push((name, index));
    }
}

/// A JPEG's size and colour components from its header, or `None` when it
/// cannot be shown as DeviceGray or DeviceRGB (evidence was decoded in full
/// at upload, so this is a corner case, not an error).
fn jpeg_info(jpeg: &[u8]) -> Option<(u32, u32, u8)> {
    let mut decoder = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(jpeg));
    decoder.decode_headers().ok()?;
    let info = decoder.info()?;
    let components = info.components;
    matches!(components, 1 | 3).then_some((u32::from(info.width), u32::from(info.height), components))
}

/// The report for `record`, generated at `now`.
pub fn render(record: &StudentReview, evidence: &ReportEvidence, now: UnixMillis) -> Vec<u8> {
    let ReportEvidence { thumbnails, not_shown, clips } = evidence;
    let mut l = Layout::new();
    l.text(true, 16.0, 0.0, "Proctoring review report");
    l.line(&format!("Exam: {} ({})", record.exam.title, record.exam.id));
    l.line(&format!("Student: {} ({})", record.student.name, record.student.id));
    l.line(&format!("Generated: {}", when(now)));

    l.heading("Decision");
    match record.decisions.last() {
        None => l.line("No decision yet."),
        Some(d) => {
            l.line(&format!("{} (version {}, by {}, {})", verdict(d.verdict), d.version, d.reviewer, when(d.at)));
            l.indented(&d.note);
        }
    }

    l.heading("Summary");
    let p = &record.priority;
    l.line(&format!(
        "Review priority {:.2}; peak score {:.2}; {} incidents, {} unreviewed; {} heartbeat or media gaps.",
        p.priority, p.peak_score, p.incident_count, p.unreviewed, p.gaps
    ));
    let counts: Vec<String> = p.counts.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect();
    if !counts.is_empty() {
        l.line(&format!("By kind: {}.", counts.join(", ")));
    }
    l.line(&format!("Session: {}.", record.session.phase.as_str()));
    for t in &record.transitions {
        let reason = t.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        l.indented(&format!("{}  {} by {}{reason}", when(t.at), t.change, t.by));
    }

    l.heading("Incidents");
    if record.incidents.is_empty() {
        l.line("None.");
    }
    let mut images: Vec<(&[u8], u32, u32, u8)> = Vec::new();
    for i in &record.incidents {
        let reading = record.incident_reviews.iter().rev().find(|r| r.incident_id == i.id);
        let read = match reading {
            None => "unreviewed".to_owned(),
            Some(r) => {
                let v = match r.verdict {
                    IncidentVerdict::Confirmed => "confirmed",
                    IncidentVerdict::Dismissed => "dismissed",
                };
                let note = r.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
                format!("{v} by {}{note}", r.reviewer)
            }
        };
        let pause = if i.during_pause { ", during a pause" } else { "" };
        let source = match i.source {
            IncidentSource::Client => "page",
            IncidentSource::Server => "server",
        };
        l.line(&format!("{}  {} ({source}{pause}) - {read}", when(i.started_at), i.kind.as_str()));
        if let Some(detail) = &i.detail {
            l.indented(detail);
        }
        if let Some(clip) = clips.iter().find(|c| c.incident == i.id) {
            let seconds = f64::from(clip.duration_ms) / 1000.0;
            l.indented(&format!("(sound clip of {seconds:.1} s kept: play it in the dashboard's review)"));
            continue;
        }
        if not_shown.contains(&i.id) {
            l.indented("(evidence frame kept; not shown: the report shows the first 60)");
            continue;
        }
        let thumb = thumbnails.iter().find(|t| t.incident == i.id);
        match thumb.and_then(|t| jpeg_info(&t.jpeg).map(|info| (t, info))) {
            Some((t, (w, h, c))) if images.len() < MAX_THUMBNAILS => {
                images.push((&t.jpeg, w, h, c));
                l.image(images.len() - 1, w, h);
            }
            Some(_) => l.indented("(evidence frame kept; not shown: the report shows the first 60)"),
            None if i.evidence_sha256.is_some() => l.indented("(evidence frame no longer kept)"),
            None => {}
        }
    }

    if record.decisions.len() > 1 {
        l.heading("Decision history");
        for d in &record.decisions {
            let before = d.previous.map(|v| format!("{} -> ", verdict(v))).unwrap_or_default();
            l.line(&format!("v{}  {}  {before}{}  by {}", d.version, when(d.at), verdict(d.verdict), d.reviewer));
            l.indented(&d.note);
        }
    }
    if !record.appeals.is_empty() {
        l.heading("Appeals");
        for a in &record.appeals {
            l.line(&format!("To version {}, {}:", a.decision_version, when(a.at)));
            l.indented(&a.text);
        }
    }
    if !record.chat.is_empty() {
        l.heading("Conversation");
        for m in &record.chat {
            let who = match (&m.student_id, &m.proctor_id) {
                (None, _) => "announcement".to_owned(),
                (_, Some(p)) => format!("proctor {p}"),
                _ => "student".to_owned(),
            };
            l.line(&format!("{}  {who}: {}", when(m.at), m.text));
        }
    }
    finish(l, &images)
}

/// Writes the pages, fonts and images into one PDF.
fn finish(layout: Layout, images: &[(&[u8], u32, u32, u8)]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    // Each font takes five references (font::ReportFont::write).
    let regular = layout.regular.write(&mut pdf, 3);
    let bold = layout.bold.write(&mut pdf, 8);
    let first_image = 13;
    let first_page = first_image + images.len() as i32;
    let page_ids: Vec<Ref> = (0..layout.pages.len()).map(|i| Ref::new(first_page + 2 * i as i32)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(page_ids.len() as i32);
    for (i, (jpeg, w, h, components)) in images.iter().enumerate() {
        let mut image = pdf.image_xobject(Ref::new(first_image + i as i32), jpeg);
        image.filter(Filter::DctDecode);
        image.width(*w as i32);
        image.height(*h as i32);
        if *components == 1 {
            image.color_space().device_gray();
        } else {
            image.color_space().device_rgb();
        }
        image.bits_per_component(8);
        image.finish();
    }
    for (i, (content, uses)) in layout.pages.into_iter().zip(layout.images).enumerate() {
        let (page_id, content_id) = (page_ids[i], Ref::new(page_ids[i].get() + 1));
        let mut page = pdf.page(page_id);
        page.parent(tree).media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H)).contents(content_id);
        let mut resources = page.resources();
        resources.fonts().pair(Name(b"F1"), regular).pair(Name(b"F2"), bold);
        let mut objects = resources.x_objects();
        for (name, index) in &uses {
            objects.pair(Name(name.as_bytes()), Ref::new(first_image + *index as i32));
        }
        objects.finish();
        resources.finish();
        page.finish();
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&content.finish(), 6);
        pdf.stream(content_id, &packed).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One unit per character: the wrapping rules without a face's widths.
    fn chars(t: &str) -> f32 {
        t.chars().count() as f32
    }

    #[test]
    fn text_wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc", 4.0, chars), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4.0, chars), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one\ntwo", 10.0, chars), ["one", "two"]);
        assert_eq!(wrap("", 10.0, chars), Vec::<String>::new());
        assert_eq!(wrap("łódź żółw", 4.0, chars), ["łódź", "żółw"], "cut at characters, not bytes");
    }

    #[test]
    fn lines_fit_the_page_by_the_face_widths() {
        let font = ReportFont::regular();
        let text = "W".repeat(200) + " " + &"i".repeat(200);
        for line in wrap(&text, LINE_W, |t| font.width(t, BODY)) {
            assert!(font.width(&line, BODY) <= LINE_W, "{line}");
        }
    }
}
