//! Text in the report: DejaVu Sans (regular and bold, compiled in from the
//! `dejavu` crate) embedded as a subset of the glyphs the report uses.
//!
//! Names, notes and chat are in whatever script the school uses; the PDF's
//! standard fonts cover Latin-1 only. DejaVu Sans covers Latin, Greek,
//! Cyrillic, Armenian, Georgian, Hebrew and more; a character it has no
//! glyph for is drawn as U+FFFD and read back as such (the JSON archive
//! keeps the exact text). One glyph per character, left to right: no
//! shaping, so scripts that join letters (Arabic) or reorder them (Indic)
//! read right when copied out but do not look right.
//!
//! The subset (`subsetter`, typst's) keeps the report small: a page of
//! Latin text embeds a few kilobytes of font, not the face's 740 KB.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

/// What stands in for a character the face has no glyph for.
const REPLACEMENT: char = '\u{fffd}';

/// One face as the report uses it: the glyphs drawn so far, numbered in
/// the subset as they are first drawn (the content streams carry the
/// subset's numbers, two bytes each, Identity-H).
pub(super) struct ReportFont {
    data: &'static [u8],
    face: Face<'static>,
    /// PostScript name with the subset tag PDF asks for (`ABCDEF+Name`).
    name: &'static [u8],
    remapper: GlyphRemapper,
    /// Subset glyph → the character it was drawn for (ToUnicode).
    text_of: BTreeMap<u16, char>,
}

impl ReportFont {
    pub(super) fn regular() -> Self {
        Self::new(dejavu::sans::regular(), b"VIGILR+DejaVuSans")
    }

    pub(super) fn bold() -> Self {
        Self::new(dejavu::sans::bold(), b"VIGILB+DejaVuSans-Bold")
    }

    fn new(data: &'static [u8], name: &'static [u8]) -> Self {
        // The face is compiled into the binary: a failure is a build defect
        // (a unit test parses both), never a matter of input.
        let face = Face::parse(data, 0).expect("the compiled-in DejaVu face parses");
        ReportFont { data, face, name, remapper: GlyphRemapper::new(), text_of: BTreeMap::new() }
    }

    /// The glyph drawn for `c` and the character it reads back as.
    fn glyph(&self, c: char) -> (GlyphId, char) {
        let c = if c.is_control() { REPLACEMENT } else { c };
        match self.face.glyph_index(c) {
            Some(g) => (g, c),
            None => (self.face.glyph_index(REPLACEMENT).unwrap_or(GlyphId(0)), REPLACEMENT),
        }
    }

    /// Width of `text` at `size` points.
    pub(super) fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 =
            text.chars().map(|c| u32::from(self.face.glyph_hor_advance(self.glyph(c).0).unwrap_or(0))).sum();
        units as f32 * size / f32::from(self.face.units_per_em())
    }

    /// `text` as the content stream's string: the subset's glyph numbers,
    /// two bytes each. Records each glyph for the subset and ToUnicode.
    pub(super) fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let (glyph, reads_as) = self.glyph(c);
            let cid = self.remapper.remap(glyph.0);
            self.text_of.entry(cid).or_insert(reads_as);
            out.extend_from_slice(&cid.to_be_bytes());
        }
        out
    }

    /// Writes the font (Type 0, its CID font, descriptor, ToUnicode map and
    /// the subset) at `refs` onwards; returns the font's own reference.
    /// Uses five references: `refs` to `refs + 4`.
    pub(super) fn write(&self, pdf: &mut Pdf, refs: i32) -> Ref {
        let [font, cid, descriptor, cmap, file] = [0, 1, 2, 3, 4].map(|i| Ref::new(refs + i));
        let system = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
        pdf.type0_font(font)
            .base_font(Name(self.name))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);

        let per_unit = 1000.0 / f32::from(self.face.units_per_em());
        let widths: Vec<f32> = self
            .remapper
            .remapped_gids()
            .map(|g| f32::from(self.face.glyph_hor_advance(GlyphId(g)).unwrap_or(0)) * per_unit)
            .collect();
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(self.name))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid_font.widths().consecutive(0, widths);
        cid_font.finish();

        let b = self.face.global_bounding_box();
        let scaled = |v: i16| f32::from(v) * per_unit;
        pdf.font_descriptor(descriptor)
            .name(Name(self.name))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(scaled(b.x_min), scaled(b.y_min), scaled(b.x_max), scaled(b.y_max)))
            .italic_angle(self.face.italic_angle())
            .ascent(scaled(self.face.ascender()))
            .descent(scaled(self.face.descender()))
            .cap_height(scaled(self.face.capital_height().unwrap_or(self.face.ascender())))
            .stem_v(80.0)
            .font_file2(file);

        let mut map = UnicodeCmap::new(Name(b"Vigil-UTF16"), system);
        for (cid, c) in &self.text_of {
            map.pair(*cid, *c);
        }
        pdf.cmap(cmap, &map.finish()).finish();

        // Like the parse above: the face is compiled in, and the unit tests
        // subset both faces.
        let subset = subsetter::subset(self.data, 0, &self.remapper).expect("DejaVu subsets");
        let packed = miniz_oxide::deflate::compress_to_vec_zlib(&subset, 6);
        pdf.stream(file, &packed).filter(Filter::FlateDecode).pair(Name(b"Length1"), subset.len() as i32);
        font
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_faces_parse_and_subset() {
        for mut font in [ReportFont::regular(), ReportFont::bold()] {
            let encoded = font.encode("Zoë Łukasz Ольга Δήμητρα");
            assert_eq!(encoded.len(), 2 * "Zoë Łukasz Ольга Δήμητρα".chars().count());
            let subset = subsetter::subset(font.data, 0, &font.remapper).expect("subsets");
            assert!(subset.len() < font.data.len() / 10, "{} of {}", subset.len(), font.data.len());
        }
    }

    #[test]
    fn a_character_without_a_glyph_reads_as_the_replacement() {
        let mut font = ReportFont::regular();
        let encoded = font.encode("李\u{7}");
        assert_eq!(encoded[0..2], encoded[2..4], "both drawn with one glyph");
        assert_eq!(font.text_of.values().collect::<Vec<_>>(), [&REPLACEMENT]);
    }

    #[test]
    fn a_glyph_is_numbered_once_and_widths_follow_the_face() {
        let mut font = ReportFont::regular();
        let twice = font.encode("aa");
        assert_eq!(twice[0..2], twice[2..4], "a repeated character keeps its number");
        assert_eq!(font.encode("a"), twice[0..2]);
        assert!(font.width("WWW", 10.0) > font.width("iii", 10.0));
        assert!((font.width("ab", 10.0) - font.width("a", 10.0) - font.width("b", 10.0)).abs() < 1e-3);
    }
}
