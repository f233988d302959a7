//! What may change in an exam's settings, and when.
//!
//! Before the exam window opens nothing has happened under the settings, so
//! anything valid may replace them. Once it has opened, students may have
//! consented to what is collected and scores have been computed and shown
//! under the scoring rules, so:
//!
//! - the privacy tier may be lowered, never raised (nobody is recorded more
//!   than they agreed to), and likewise the evidence retention shortened,
//!   never lengthened; the microphone may be turned off, never on;
//! - the scoring rules stay as they are (every score a proctor has seen was
//!   computed with them; a change would rewrite history);
//! - the opening time stays (students have started under it);
//! - the closing time, the detectors switched off, the stall threshold and
//!   the assessment URL may change: those are what an instructor fixes during
//!   a live exam (extra time for everyone, a misbehaving detector, the wrong
//!   quiz link).
//!
//! A student's accommodations apply on top ([`for_student`]): their own
//! detectors off, and extra time added to the duration and the window's end.

use vigil_proto::{Accommodations, BreakPolicy, DetectorThresholds, ExamSettings, PrivacyTier, UnixMillis};

use crate::session::Timing;

/// A change the rules above refuse; `Display` names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsLocked {
    #[error("the exam has opened: its privacy tier may be lowered but not raised")]
    PrivacyRaised,
    #[error("the exam has opened: its evidence retention may be shortened but not lengthened")]
    RetentionLengthened,
    #[error("the exam has opened: its scoring rules can no longer change")]
    ScoringChanged,
    #[error("the exam has opened: its opening time can no longer change")]
    OpeningMoved,
    #[error("the exam has opened: the microphone may be turned off but not on")]
    MicrophoneTurnedOn,
}

/// How much a tier collects, for comparing tiers.
fn intrusiveness(tier: PrivacyTier) -> u8 {
    match tier {
        PrivacyTier::EventsOnly => 0,
        PrivacyTier::FlaggedFrames => 1,
        PrivacyTier::Recording => 2,
    }
}

/// Whether `after` may replace `before` at `now`. Only the rules about time
/// are here; whether `after` is valid on its own is the caller's check.
pub fn check_change(before: &ExamSettings, after: &ExamSettings, now: UnixMillis) -> Result<(), SettingsLocked> {
    if now < before.window.opens_at {
        return Ok(());
    }
    if intrusiveness(after.privacy) > intrusiveness(before.privacy) {
        return Err(SettingsLocked::PrivacyRaised);
    }
    if after.evidence_retention_days > before.evidence_retention_days {
        return Err(SettingsLocked::RetentionLengthened);
    }
    if after.scoring != before.scoring {
        return Err(SettingsLocked::ScoringChanged);
    }
    if after.window.opens_at != before.window.opens_at {
        return Err(SettingsLocked::OpeningMoved);
    }
    if after.microphone && !before.microphone {
        return Err(SettingsLocked::MicrophoneTurnedOn);
    }
    Ok(())
}

/// The most extra time as a percentage, and in minutes.
pub const MAX_EXTRA_PCT: u32 = 300;
pub const MAX_EXTRA_MIN: u32 = 1_440;
/// The longest note for proctors.
pub const MAX_NOTE_CHARS: usize = 500;

/// Whether `a` is valid on its own: bounded extra time, detectors a student
/// page runs (not the server's own findings), a short note.
pub fn check_accommodations(a: &Accommodations) -> Result<(), String> {
    if a.extra_time_pct > MAX_EXTRA_PCT {
        return Err(format!("extra_time_pct must be at most {MAX_EXTRA_PCT}"));
    }
    if a.extra_time_min > MAX_EXTRA_MIN {
        return Err(format!("extra_time_min must be at most {MAX_EXTRA_MIN}"));
    }
    if let Some(kind) = a.disabled_detectors.iter().find(|k| k.is_server_only()) {
        return Err(format!("{} is the server's own finding, not a detector to switch off", kind.as_str()));
    }
    if a.extra_breaks > MAX_BREAKS {
        return Err(format!("extra_breaks must be at most {MAX_BREAKS}"));
    }
    if let Some(t) = &a.thresholds {
        check_thresholds(t)?;
    }
    if let Some(note) = &a.note
        && (note.chars().count() > MAX_NOTE_CHARS || note.chars().any(|c| c.is_control() && c != '\n'))
    {
        return Err(format!("note must be at most {MAX_NOTE_CHARS} characters, without control characters"));
    }
    Ok(())
}

/// The most breaks, per exam or added for one student.
pub const MAX_BREAKS: u32 = 20;
/// The longest break, in minutes.
pub const MAX_BREAK_MIN: u32 = 120;
/// How long a student's extra break lasts when the exam has no breaks.
pub const DEFAULT_BREAK_MIN: u32 = 10;

/// Whether a break policy is in bounds.
pub fn check_breaks(b: &BreakPolicy) -> Result<(), String> {
    if !(1..=MAX_BREAKS).contains(&b.count) || !(1..=MAX_BREAK_MIN).contains(&b.minutes) {
        return Err(format!("breaks: count must be 1 to {MAX_BREAKS} and minutes 1 to {MAX_BREAK_MIN}"));
    }
    Ok(())
}

/// Whether detector thresholds are in bounds: shorter than half a second
/// raises on one noisy frame; longer than a minute or a yaw limit outside
/// 10–80° no longer proctors.
pub fn check_thresholds(t: &DetectorThresholds) -> Result<(), String> {
    let delay_ok = |ms: Option<u32>| ms.is_none_or(|ms| (500..=60_000).contains(&ms));
    if !delay_ok(t.no_face_after_ms) || !delay_ok(t.looking_away_after_ms) {
        return Err("thresholds: no_face_after_ms and looking_away_after_ms must be 500 to 60000".into());
    }
    if t.yaw_limit_deg.is_some_and(|deg| !(10..=80).contains(&deg)) {
        return Err("thresholds: yaw_limit_deg must be 10 to 80".into());
    }
    if t.pitch_limit_deg.is_some_and(|deg| !(10..=60).contains(&deg)) {
        return Err("thresholds: pitch_limit_deg must be 10 to 60".into());
    }
    Ok(())
}

/// The breaks a student may take under the exam's policy and their
/// accommodations: how many, and how long each.
pub fn breaks_for(settings: &ExamSettings, a: Option<&Accommodations>) -> Option<BreakPolicy> {
    let extra = a.map_or(0, |a| a.extra_breaks);
    let count = settings.breaks.map_or(0, |b| b.count).saturating_add(extra);
    let minutes = settings.breaks.map_or(DEFAULT_BREAK_MIN, |b| b.minutes);
    (count > 0).then_some(BreakPolicy { count, minutes })
}

/// The extra time `a` grants (ms): its percentage of the duration (of the
/// window when the exam has none), then its minutes.
pub fn extra_ms(settings: &ExamSettings, a: &Accommodations) -> i64 {
    let base = match settings.duration_s {
        Some(s) => i64::from(s) * 1000,
        None => (settings.window.closes_at - settings.window.opens_at).max(0),
    };
    base.saturating_mul(i64::from(a.extra_time_pct)) / 100 + i64::from(a.extra_time_min) * 60_000
}

/// A session's timing under the exam's settings and a student's
/// accommodations, without building their whole settings (this runs for
/// every student on every expiry tick).
pub fn timing_for(settings: &ExamSettings, a: Option<&Accommodations>) -> Timing {
    let extra = a.map_or(0, |a| extra_ms(settings, a));
    let breaks = breaks_for(settings, a);
    Timing {
        duration_ms: settings.duration_s.map(|s| (i64::from(s) * 1000).saturating_add(extra)),
        closes_at: settings.window.closes_at.saturating_add(extra),
        breaks_allowed: breaks.map_or(0, |b| b.count),
        break_ms: breaks.map_or(0, |b| i64::from(b.minutes) * 60_000),
    }
}

/// The exam's settings as they apply to one student: their detectors off as
/// well as the exam's, and their extra time added to the duration and to
/// the window's end (so the window does not cut it short).
pub fn for_student(settings: &ExamSettings, a: Option<&Accommodations>) -> ExamSettings {
    let mut out = settings.clone();
    let Some(a) = a else { return out };
    for kind in &a.disabled_detectors {
        if !out.disabled_detectors.contains(kind) {
            out.disabled_detectors.push(*kind);
        }
    }
    out.breaks = breaks_for(settings, Some(a));
    if let Some(mine) = a.thresholds {
        out.thresholds = Some(settings.thresholds.unwrap_or_default().overridden_by(mine));
    }
    let extra = extra_ms(settings, a);
    out.window.closes_at = out.window.closes_at.saturating_add(extra);
    if let Some(d) = out.duration_s {
        let extra_s = u32::try_from(extra / 1000).unwrap_or(u32::MAX);
        out.duration_s = Some(d.saturating_add(extra_s));
    }
    out
}

#[cfg(test)]
mod tests {
    use vigil_proto::{ExamWindow, IncidentKind};

    use super::*;

    #[test]
    fn accommodations_add_time_and_switch_detectors_off_for_one_student() {
        let mut exam = settings();
        exam.duration_s = Some(3_600);
        exam.disabled_detectors = vec![IncidentKind::CopyPaste];
        let a = Accommodations {
            extra_time_pct: 50,
            extra_time_min: 10,
            disabled_detectors: vec![IncidentKind::LookingAway, IncidentKind::CopyPaste],
            note: Some("Reads aloud".into()),
            extra_breaks: 0,
            thresholds: None,
        };
        let mine = for_student(&exam, Some(&a));
        assert_eq!(mine.duration_s, Some(3_600 + 1_800 + 600));
        assert_eq!(mine.window.closes_at, exam.window.closes_at + 2_400_000);
        assert_eq!(mine.disabled_detectors, vec![IncidentKind::CopyPaste, IncidentKind::LookingAway]);
        assert_eq!(for_student(&exam, None), exam);
        let timing = timing_for(&exam, Some(&a));
        assert_eq!(timing.duration_ms, Some(i64::from(mine.duration_s.unwrap()) * 1000));
        assert_eq!(timing.closes_at, mine.window.closes_at);
        assert_eq!(timing_for(&exam, None).duration_ms, Some(3_600_000));
        // Without a duration, the percentage is of the window.
        let open = settings();
        let pct = Accommodations { extra_time_pct: 25, ..Accommodations::default() };
        assert_eq!(extra_ms(&open, &pct), 900_000);
    }

    #[test]
    fn breaks_and_thresholds_are_the_exams_with_the_students_on_top() {
        let mut exam = settings();
        exam.thresholds =
            Some(DetectorThresholds { no_face_after_ms: Some(2_000), yaw_limit_deg: Some(30), ..Default::default() });
        let a = Accommodations {
            extra_breaks: 2,
            thresholds: Some(DetectorThresholds { yaw_limit_deg: Some(60), ..Default::default() }),
            ..Accommodations::default()
        };
        let mine = for_student(&exam, Some(&a));
        assert_eq!(mine.breaks, Some(BreakPolicy { count: 2, minutes: DEFAULT_BREAK_MIN }));
        assert_eq!(
            mine.thresholds,
            Some(DetectorThresholds {
                no_face_after_ms: Some(2_000),
                looking_away_after_ms: None,
                yaw_limit_deg: Some(60),
                pitch_limit_deg: None,
            })
        );
        exam.breaks = Some(BreakPolicy { count: 1, minutes: 5 });
        let timing = timing_for(&exam, Some(&a));
        assert_eq!((timing.breaks_allowed, timing.break_ms), (3, 300_000));
        assert_eq!(timing_for(&settings(), None).breaks_allowed, 0);
        assert!(check_breaks(&BreakPolicy { count: 0, minutes: 5 }).is_err());
        assert!(check_breaks(&BreakPolicy { count: 3, minutes: 121 }).is_err());
        assert!(check_thresholds(&DetectorThresholds { no_face_after_ms: Some(499), ..Default::default() }).is_err());
        assert!(check_thresholds(&DetectorThresholds { yaw_limit_deg: Some(81), ..Default::default() }).is_err());
        assert!(check_thresholds(&DetectorThresholds { pitch_limit_deg: Some(9), ..Default::default() }).is_err());
        assert!(check_thresholds(&DetectorThresholds { pitch_limit_deg: Some(61), ..Default::default() }).is_err());
        assert!(check_thresholds(&DetectorThresholds { pitch_limit_deg: Some(35), ..Default::default() }).is_ok());
        assert_eq!(
            check_thresholds(&DetectorThresholds { looking_away_after_ms: Some(60_000), ..Default::default() }),
            Ok(())
        );
    }

    #[test]
    fn accommodations_are_bounded() {
        let ok = Accommodations::default();
        assert_eq!(check_accommodations(&ok), Ok(()));
        let bad = [
            Accommodations { extra_time_pct: 301, ..ok.clone() },
            Accommodations { extra_time_min: 1_441, ..ok.clone() },
            Accommodations { disabled_detectors: vec![IncidentKind::HeartbeatLost], ..ok.clone() },
            Accommodations { note: Some("x".repeat(501)), ..ok.clone() },
            Accommodations { note: Some("a\u{7}b".into()), ..ok.clone() },
            Accommodations { extra_breaks: 21, ..ok.clone() },
            Accommodations {
                thresholds: Some(DetectorThresholds { no_face_after_ms: Some(100), ..Default::default() }),
                ..ok.clone()
            },
        ];
        for a in bad {
            assert!(check_accommodations(&a).is_err(), "{a:?}");
        }
        assert!(check_accommodations(&Accommodations { note: Some("line one\nline two".into()), ..ok }).is_ok());
    }

    const OPENS: UnixMillis = 1_800_000_000_000;

    fn settings() -> ExamSettings {
        ExamSettings::with_window(ExamWindow { opens_at: OPENS, closes_at: OPENS + 3_600_000 })
    }

    #[test]
    fn before_opening_anything_may_change() {
        let before = settings();
        let mut after = settings();
        after.privacy = PrivacyTier::FlaggedFrames;
        after.evidence_retention_days = 365;
        after.scoring.alert_at = 20.0;
        after.window.opens_at = OPENS + 60_000;
        assert_eq!(check_change(&before, &after, OPENS - 1), Ok(()));
    }

    #[test]
    fn once_open_what_students_agreed_to_may_only_shrink() {
        let mut before = settings();
        before.privacy = PrivacyTier::EventsOnly;
        let mut raised = before.clone();
        raised.privacy = PrivacyTier::FlaggedFrames;
        assert_eq!(check_change(&before, &raised, OPENS), Err(SettingsLocked::PrivacyRaised));
        assert_eq!(check_change(&raised, &before, OPENS), Ok(()), "lowering is allowed");
        let mut recorded = raised.clone();
        recorded.privacy = PrivacyTier::Recording;
        assert_eq!(check_change(&raised, &recorded, OPENS), Err(SettingsLocked::PrivacyRaised), "recording is more");
        assert_eq!(check_change(&recorded, &raised, OPENS), Ok(()), "stopping recording is allowed");

        let mut longer = before.clone();
        longer.evidence_retention_days += 1;
        assert_eq!(check_change(&before, &longer, OPENS + 1), Err(SettingsLocked::RetentionLengthened));
        assert_eq!(check_change(&longer, &before, OPENS + 1), Ok(()), "shortening is allowed");

        let mut listening = before.clone();
        listening.microphone = true;
        assert_eq!(check_change(&before, &listening, OPENS + 1), Err(SettingsLocked::MicrophoneTurnedOn));
        assert_eq!(check_change(&listening, &before, OPENS + 1), Ok(()), "turning the microphone off is allowed");
        assert_eq!(check_change(&before, &listening, OPENS - 1), Ok(()), "before opening it may be turned on");
    }

    #[test]
    fn once_open_scoring_and_the_opening_time_are_fixed() {
        let before = settings();
        let mut rescored = settings();
        rescored.scoring.weights.insert(IncidentKind::TabHidden, 9.0);
        assert_eq!(check_change(&before, &rescored, OPENS + 1), Err(SettingsLocked::ScoringChanged));
        let mut moved = settings();
        moved.window.opens_at -= 1;
        assert_eq!(check_change(&before, &moved, OPENS + 1), Err(SettingsLocked::OpeningMoved));
    }

    #[test]
    fn once_open_live_fixes_are_allowed() {
        let before = settings();
        let mut after = settings();
        after.window.closes_at += 15 * 60_000;
        after.disabled_detectors = vec![IncidentKind::LookingAway];
        after.stall_after_s = 30;
        after.assessment_url = Some("https://lms.example.edu/quiz/7".into());
        assert_eq!(check_change(&before, &after, OPENS + 1), Ok(()));
    }
}
