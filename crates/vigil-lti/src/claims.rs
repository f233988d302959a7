//! Claim names, message types and scopes, spelled once.

/// LTI Core §5.3.1.
pub const MESSAGE_TYPE: &str = "https://purl.imsglobal.org/spec/lti/claim/message_type";
/// LTI Core §5.3.2.
pub const VERSION: &str = "https://purl.imsglobal.org/spec/lti/claim/version";
/// LTI Core §5.3.3.
pub const DEPLOYMENT_ID: &str = "https://purl.imsglobal.org/spec/lti/claim/deployment_id";
/// LTI Core §5.3.4.
pub const TARGET_LINK_URI: &str = "https://purl.imsglobal.org/spec/lti/claim/target_link_uri";
/// LTI Core §5.3.5.
pub const RESOURCE_LINK: &str = "https://purl.imsglobal.org/spec/lti/claim/resource_link";
/// LTI Core §5.3.7.
pub const ROLES: &str = "https://purl.imsglobal.org/spec/lti/claim/roles";
/// LTI Core §5.4.1.
pub const CONTEXT: &str = "https://purl.imsglobal.org/spec/lti/claim/context";
/// LTI Core §5.4.6.
pub const CUSTOM: &str = "https://purl.imsglobal.org/spec/lti/claim/custom";
/// Names and Role Provisioning Services 2.0 §3.6.1.1.
pub const NAMES_ROLE_SERVICE: &str = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice";

/// LTI Proctoring Services 1.0 claims.
pub const ATTEMPT_NUMBER: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/attempt_number";
pub const START_ASSESSMENT_URL: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/start_assessment_url";
pub const SESSION_DATA: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/session_data";
pub const PROCTORING_SETTINGS: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/proctoring_settings";
pub const VERIFIED_USER: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/verified_user";
pub const END_ASSESSMENT_RETURN: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/end_assessment_return";
/// Assessment Control Service claim.
pub const ACS: &str = "https://purl.imsglobal.org/spec/lti-ap/claim/acs";

/// The only LTI version vigil speaks.
pub const LTI_VERSION: &str = "1.3.0";

pub const LTI_RESOURCE_LINK_REQUEST: &str = "LtiResourceLinkRequest";
pub const LTI_START_PROCTORING: &str = "LtiStartProctoring";
pub const LTI_START_ASSESSMENT: &str = "LtiStartAssessment";
pub const LTI_END_ASSESSMENT: &str = "LtiEndAssessment";

/// OAuth 2 scopes vigil may ask a platform for.
pub mod scope {
    /// Assessment Control Service.
    pub const ACS_CONTROL: &str = "https://purl.imsglobal.org/spec/lti-ap/scope/control.all";
    /// Names and Role Provisioning Services, read only.
    pub const NRPS_MEMBERSHIP_READ: &str = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly";
}
