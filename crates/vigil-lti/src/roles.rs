//! LTI role URIs (LTI Core §5.3.7 and appendix A.2) mapped to what vigil
//! cares about: who may proctor and who sits the exam.
//!
//! Context (membership) roles decide. Institution and system roles describe
//! the person's standing in the whole institution, not in this course, so of
//! those only the administrator roles count: an institution's Faculty member
//! who is a Learner in this course is a student here. Simple names
//! ("Instructor") and LTI 1.1 URNs are recognised because Core allows
//! platforms to send them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A launch role as vigil uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaunchRole {
    Learner,
    Instructor,
    TeachingAssistant,
    Administrator,
    Other,
}

impl LaunchRole {
    /// May watch, warn, pause and terminate students.
    pub fn is_proctor_capable(self) -> bool {
        matches!(self, Self::Instructor | Self::TeachingAssistant | Self::Administrator)
    }
}

const MEMBERSHIP: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#";
const MEMBERSHIP_SUB: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership/";
const INSTITUTION: &str = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#";
const SYSTEM: &str = "http://purl.imsglobal.org/vocab/lis/v2/system/person#";
const LTI1_CONTEXT: &str = "urn:lti:role:ims/lis/";
const LTI1_INSTITUTION: &str = "urn:lti:instrole:ims/lis/";
const LTI1_SYSTEM: &str = "urn:lti:sysrole:ims/lis/";

fn context_role(name: &str) -> LaunchRole {
    match name {
        "Learner" => LaunchRole::Learner,
        "Instructor" => LaunchRole::Instructor,
        // Not a v2 context role, but seen in the wild and unambiguous.
        "TeachingAssistant" => LaunchRole::TeachingAssistant,
        "Administrator" => LaunchRole::Administrator,
        _ => LaunchRole::Other,
    }
}

/// Maps one role URI (or Core's simple name) to a [`LaunchRole`].
pub fn map_role(role: &str) -> LaunchRole {
    let role = role.trim();
    if let Some(name) = role.strip_prefix(MEMBERSHIP) {
        return context_role(name);
    }
    if let Some(sub) = role.strip_prefix(MEMBERSHIP_SUB) {
        // Sub-roles: `membership/Instructor#TeachingAssistant`, `membership/Learner#GuestLearner`.
        let (principal, sub_role) = sub.split_once('#').unwrap_or((sub, ""));
        return match (principal, sub_role) {
            ("Instructor", "TeachingAssistant") => LaunchRole::TeachingAssistant,
            (principal, _) => context_role(principal),
        };
    }
    if let Some(name) = role.strip_prefix(INSTITUTION).or_else(|| role.strip_prefix(LTI1_INSTITUTION)) {
        return match name {
            "Administrator" => LaunchRole::Administrator,
            _ => LaunchRole::Other,
        };
    }
    if let Some(name) = role.strip_prefix(SYSTEM).or_else(|| role.strip_prefix(LTI1_SYSTEM)) {
        return match name {
            "Administrator" | "SysAdmin" => LaunchRole::Administrator,
            _ => LaunchRole::Other,
        };
    }
    if let Some(name) = role.strip_prefix(LTI1_CONTEXT) {
        return match name {
            "Instructor/TeachingAssistant" | "TeachingAssistant" => LaunchRole::TeachingAssistant,
            name => context_role(name.split('/').next().unwrap_or(name)),
        };
    }
    context_role(role)
}

/// The roles of one launch: the URIs as sent, and what they map to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// The role URIs exactly as the platform sent them.
    pub uris: Vec<String>,
    /// The distinct mapped roles, in [`LaunchRole`] order.
    pub mapped: BTreeSet<LaunchRole>,
}

impl Roles {
    pub fn from_uris(uris: Vec<String>) -> Self {
        let mapped = uris.iter().map(|u| map_role(u)).collect();
        Self { uris, mapped }
    }

    pub fn contains(&self, role: LaunchRole) -> bool {
        self.mapped.contains(&role)
    }

    /// An instructor, teaching assistant or administrator: launches as a proctor.
    pub fn is_proctor_capable(&self) -> bool {
        self.mapped.iter().any(|r| r.is_proctor_capable())
    }

    /// A learner: launches as a student.
    pub fn is_learner(&self) -> bool {
        self.contains(LaunchRole::Learner)
    }

    /// May change the exam's settings: an instructor or an administrator,
    /// not a teaching assistant. Platforms send a TA as
    /// `membership#Instructor` plus the `Instructor#TeachingAssistant`
    /// sub-role, so the sub-role wins over the principal role.
    pub fn may_configure(&self) -> bool {
        self.contains(LaunchRole::Administrator)
            || (self.contains(LaunchRole::Instructor) && !self.contains(LaunchRole::TeachingAssistant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_roles_map() {
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"), LaunchRole::Learner);
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"), LaunchRole::Instructor);
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator"),
            LaunchRole::Administrator
        );
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"), LaunchRole::Other);
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"), LaunchRole::Other);
    }

    #[test]
    fn sub_roles_map_to_their_principal_except_teaching_assistant() {
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"),
            LaunchRole::TeachingAssistant
        );
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#Grader"),
            LaunchRole::Instructor
        );
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#GuestLearner"),
            LaunchRole::Learner
        );
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/membership/Mentor#Advisor"), LaunchRole::Other);
    }

    #[test]
    fn institution_and_system_roles_only_count_for_administrators() {
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"),
            LaunchRole::Administrator
        );
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"), LaunchRole::Other);
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor"), LaunchRole::Other);
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"), LaunchRole::Other);
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin"),
            LaunchRole::Administrator
        );
        assert_eq!(
            map_role("http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator"),
            LaunchRole::Administrator
        );
        assert_eq!(map_role("http://purl.imsglobal.org/vocab/lis/v2/system/person#User"), LaunchRole::Other);
    }

    #[test]
    fn simple_names_and_lti1_urns_map() {
        assert_eq!(map_role("Instructor"), LaunchRole::Instructor);
        assert_eq!(map_role("Learner"), LaunchRole::Learner);
        assert_eq!(map_role("urn:lti:role:ims/lis/Learner"), LaunchRole::Learner);
        assert_eq!(map_role("urn:lti:role:ims/lis/TeachingAssistant"), LaunchRole::TeachingAssistant);
        assert_eq!(map_role("urn:lti:role:ims/lis/Instructor/TeachingAssistant"), LaunchRole::TeachingAssistant);
        assert_eq!(map_role("urn:lti:role:ims/lis/Instructor/PrimaryInstructor"), LaunchRole::Instructor);
        assert_eq!(map_role("urn:lti:sysrole:ims/lis/SysAdmin"), LaunchRole::Administrator);
        assert_eq!(map_role("urn:lti:instrole:ims/lis/Administrator"), LaunchRole::Administrator);
        assert_eq!(map_role("urn:lti:instrole:ims/lis/Student"), LaunchRole::Other);
        assert_eq!(map_role("https://example.com/custom#Role"), LaunchRole::Other);
        assert_eq!(map_role(""), LaunchRole::Other);
    }

    #[test]
    fn role_sets_decide_proctor_or_student() {
        let ta = Roles::from_uris(vec![
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor".into(),
            "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant".into(),
        ]);
        assert!(ta.is_proctor_capable());
        assert!(ta.contains(LaunchRole::TeachingAssistant));
        assert!(!ta.is_learner());
        assert!(!ta.may_configure(), "a TA proctors but does not configure");
        let instructor = Roles::from_uris(vec!["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor".into()]);
        assert!(instructor.may_configure());
        let admin =
            Roles::from_uris(vec!["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator".into()]);
        assert!(admin.may_configure() && admin.is_proctor_capable());

        let student = Roles::from_uris(vec![
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner".into(),
            "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student".into(),
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor".into(),
        ]);
        assert!(student.is_learner());
        assert!(!student.is_proctor_capable());
        assert_eq!(student.mapped.iter().copied().collect::<Vec<_>>(), vec![LaunchRole::Learner, LaunchRole::Other]);

        let faculty_as_learner = Roles::from_uris(vec![
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner".into(),
            "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty".into(),
        ]);
        assert!(!faculty_as_learner.is_proctor_capable());

        let none = Roles::from_uris(vec![]);
        assert!(!none.is_learner() && !none.is_proctor_capable());
    }
}
