//! An owned I420 picture: the raw format a webcam pipeline hands the VP8
//! encoder, and what the decoder gives back.

/// Contiguous I420: the Y plane (`width * height`), then U, then V (each
/// `width/2 * height/2`). Width and height are even so the chroma planes are
/// exact halves, which keeps every consumer free of rounding cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("I420 frames need an even, non-zero width and height no larger than 16384 (got {width}x{height})")]
pub struct BadDimensions {
    pub width: u32,
    pub height: u32,
}

impl I420Frame {
    pub fn new(width: u32, height: u32) -> Result<Self, BadDimensions> {
        // 16384 is VP8's limit (14-bit size fields); also keeps the buffer
        // size computation far from overflow.
        if width == 0
            || height == 0
            || !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || width > 16384
            || height > 16384
        {
            return Err(BadDimensions { width, height });
        }
        let len = Self::buffer_len(width, height);
        Ok(Self { width, height, data: vec![0; len] })
    }

    fn buffer_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w / 2) * (h / 2)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn y_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    fn c_len(&self) -> usize {
        (self.width as usize / 2) * (self.height as usize / 2)
    }

    /// The whole contiguous buffer (Y, U, V).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn y(&self) -> &[u8] {
        &self.data[..self.y_len()]
    }

    pub fn u(&self) -> &[u8] {
        &self.data[self.y_len()..self.y_len() + self.c_len()]
    }

    pub fn v(&self) -> &[u8] {
        &self.data[self.y_len() + self.c_len()..]
    }

    /// Mutable Y, U and V planes at once, so a generator can fill all three.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y_len, c_len) = (self.y_len(), self.c_len());
        let (y, rest) = self.data.split_at_mut(y_len);
        let (u, v) = rest.split_at_mut(c_len);
        (y, u, v)
    }
}

/// PSNR in dB of two equally sized 8-bit planes; `None` when the sizes
/// differ. Identical planes give `f64::INFINITY`.
pub fn psnr(a: &[u8], b: &[u8]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let sse: u64 = a.iter().zip(b).map(|(&x, &y)| (i32::from(x) - i32::from(y)).pow(2) as u64).sum();
    if sse == 0 {
        return Some(f64::INFINITY);
    }
    let mse = sse as f64 / a.len() as f64;
    Some(10.0 * (255.0 * 255.0 / mse).log10())
}
