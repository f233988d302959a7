//! Rules on the continuous signals a student's page sends.

use vigil_proto::Quality;

/// Detection quality from the latest signals: poor conditions, not suspicion.
pub fn quality_of(brightness: Option<f64>, confidence: Option<f64>) -> Quality {
    match (brightness, confidence) {
        (Some(b), _) if b < 0.15 => Quality::LowLight,
        (_, Some(c)) if c < 0.5 => Quality::LowConfidence,
        (None, None) => Quality::Unknown,
        _ => Quality::Good,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn light_comes_before_confidence() {
        assert_eq!(quality_of(Some(0.1), Some(0.2)), Quality::LowLight);
        assert_eq!(quality_of(Some(0.5), Some(0.2)), Quality::LowConfidence);
        assert_eq!(quality_of(Some(0.5), Some(0.9)), Quality::Good);
        assert_eq!(quality_of(None, None), Quality::Unknown);
    }
}
