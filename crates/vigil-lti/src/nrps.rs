//! The Names and Role Provisioning Services 2.0 client core: the URL of a
//! course's first membership page, and each page's answer turned into the
//! learners vigil enrols and the link to the next page. The adapter does the
//! GET (with [`NRPS_ACCEPT`] and a bearer token for
//! [`crate::claims::scope::NRPS_MEMBERSHIP_READ`]) and follows the pages.

use serde_json::{Map, Value};
use url::{Url, form_urlencoded};

use crate::launch::NamesRoleService;
use crate::roles::Roles;
use crate::truncated;
use crate::types::{HttpsUrl, InvalidValue, UserId};

/// The media type of a membership container (NRPS 2.0 §2.2), sent as `Accept`.
pub const NRPS_ACCEPT: &str = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json";
/// Largest membership page read: the adapter should stop reading there, and
/// [`parse_membership_page`] refuses anything bigger. 10,000 members with
/// names, emails and a few roles fit comfortably.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;
/// Most members accepted on one page. The first page asks for no more than
/// this; a platform that ignores `limit` and sends more is refused rather
/// than trusted with unbounded work.
pub const MAX_MEMBERS_PER_PAGE: usize = 10_000;
/// Longest display name kept, in characters.
pub const MAX_MEMBER_NAME_CHARS: usize = 200;

/// The learner role the first page asks the platform to filter on.
const LEARNER_ROLE: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";

/// Why a membership page could not be used. [`NrpsError::reason`] is stable
/// and machine-readable; the fields are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NrpsError {
    #[error("the membership page is larger than {MAX_PAGE_BYTES} bytes")]
    TooLarge,
    #[error("the membership page is not a membership container")]
    Malformed,
    #[error("the membership page lists {count} members, more than {MAX_MEMBERS_PER_PAGE}")]
    TooManyMembers { count: usize },
    /// The platform pointed the next page at another origin. Following it
    /// would let a platform (or whoever forged its answer's headers) send
    /// vigil's server, with its bearer token, to any host.
    #[error("the next membership page lies on another origin ({origin})")]
    ForeignNextPage { origin: String },
    /// Same origin, but not a URL vigil requests (too long, credentials).
    #[error("the next membership page link is not usable: {error}")]
    InvalidNextPage { error: InvalidValue },
}

impl NrpsError {
    /// A stable, machine-readable reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::TooManyMembers { .. } => "too_many_members",
            Self::ForeignNextPage { .. } => "foreign_next_page",
            Self::InvalidNextPage { .. } => "invalid_next_page",
        }
    }
}

/// A learner of the course, as vigil enrols them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The NRPS `user_id`, which is the `sub` the same user launches with
    /// (NRPS 2.0 §2.3), so it is checked the same way.
    pub user_id: UserId,
    /// `name`, else `given_name` and `family_name` joined; without control
    /// characters, trimmed, at most [`MAX_MEMBER_NAME_CHARS`] characters.
    pub name: Option<String>,
}

/// One page of a course's membership, reduced to what vigil needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipPage {
    /// Active members whose roles make them a student, in the page's order.
    /// The same user may appear on more than one page.
    pub learners: Vec<Member>,
    /// Entries that could not be read (not an object, a missing or invalid
    /// `user_id`, roles that are not a list of strings, a status that is not
    /// one of NRPS's three). Members merely left out (inactive, not a
    /// learner) are not counted.
    pub skipped: usize,
    /// The page to fetch next, on the service's own origin; `None` on the last.
    pub next: Option<HttpsUrl>,
}

/// The first page to fetch: the service's `context_memberships_url` asking
/// for learners only (`role`) and at most `limit` members per page (clamped
/// to 1..=[`MAX_MEMBERS_PER_PAGE`]). Other query parameters are kept as they
/// are, since some platforms put the course in the query; a `role` or
/// `limit` already there is replaced so the platform does not see two.
///
/// Fails only when the result is longer than [`crate::MAX_URL_LEN`].
pub fn first_membership_page(service: &NamesRoleService, limit: usize) -> Result<HttpsUrl, InvalidValue> {
    let mut url = service.context_memberships_url.as_url().clone();
    // Filter the raw query rather than decode and re-encode it, which would
    // rewrite parameters the platform may compare byte for byte.
    let kept: Vec<&str> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| {
            let key = form_urlencoded::parse(pair.as_bytes()).next().map(|(key, _)| key);
            !pair.is_empty() && !key.is_some_and(|key| key == "role" || key == "limit")
        })
        .collect();
    let kept = kept.join("&");
    url.set_query(if kept.is_empty() { None } else { Some(&kept) });
    url.query_pairs_mut()
        .append_pair("role", LEARNER_ROLE)
        .append_pair("limit", &limit.clamp(1, MAX_MEMBERS_PER_PAGE).to_string());
    HttpsUrl::parse_named("NRPS membership URL", url.as_str())
}

/// Reads one membership page: `body` is the answer's body, `link_header` its
/// `Link` header (several `Link` fields joined with ", ", RFC 9110 §5.3),
/// `service` the launch's NRPS claim.
///
/// Members are filtered here even though the first page asks for learners
/// only: platforms may ignore the `role` parameter (NRPS 2.0 §2.4.1 lets
/// them). A member counts when active (an absent status means active) and
/// its roles make it a student the way a resource link launch decides:
/// a learner and not proctor-capable, so an instructor who is also enrolled
/// as a learner is not sent an exam.
pub fn parse_membership_page(
    body: &[u8],
    link_header: Option<&str>,
    service: &NamesRoleService,
) -> Result<MembershipPage, NrpsError> {
    if body.len() > MAX_PAGE_BYTES {
        return Err(NrpsError::TooLarge);
    }
    let container: Value = serde_json::from_slice(body).map_err(|_| NrpsError::Malformed)?;
    let Some(Value::Array(members)) = container.get("members") else {
        return Err(NrpsError::Malformed);
    };
    if members.len() > MAX_MEMBERS_PER_PAGE {
        return Err(NrpsError::TooManyMembers { count: members.len() });
    }
    let mut learners = Vec::new();
    let mut skipped = 0;
    for entry in members {
        match read_member(entry) {
            Some(Some(member)) => learners.push(member),
            Some(None) => {}
            None => skipped += 1,
        }
    }
    let next = match link_header.and_then(next_link_target) {
        Some(target) => Some(next_page_url(target, &service.context_memberships_url)?),
        None => None,
    };
    Ok(MembershipPage { learners, skipped, next })
}

/// `None` when the entry is malformed, `Some(None)` when it is readable but
/// not an active learner.
fn read_member(entry: &Value) -> Option<Option<Member>> {
    let member = entry.as_object()?;
    let user_id = UserId::new(member.get("user_id")?.as_str()?).ok()?;
    let active = match member.get("status") {
        None | Some(Value::Null) => true,
        Some(Value::String(status)) if status.eq_ignore_ascii_case("Active") => true,
        Some(Value::String(status))
            if status.eq_ignore_ascii_case("Inactive") || status.eq_ignore_ascii_case("Deleted") =>
        {
            false
        }
        Some(_) => return None,
    };
    let roles = member.get("roles")?.as_array()?;
    let roles = Roles::from_uris(roles.iter().map(|r| r.as_str().map(str::to_owned)).collect::<Option<_>>()?);
    if !active || !roles.is_learner() || roles.is_proctor_capable() {
        return Some(None);
    }
    Some(Some(Member { user_id, name: display_name(member) }))
}

/// Names are informative: a missing or non-string one is no reason to skip
/// the member.
fn display_name(member: &Map<String, Value>) -> Option<String> {
    let field = |name: &str| member.get(name).and_then(Value::as_str).map(clean_name).filter(|n| !n.is_empty());
    field("name").or_else(|| {
        let joined = [field("given_name"), field("family_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
        Some(clean_name(&joined)).filter(|n| !n.is_empty())
    })
}

/// Control characters dropped (they would break log lines and page layout),
/// trimmed, cut to [`MAX_MEMBER_NAME_CHARS`] without first copying the whole
/// of an oversized name.
fn clean_name(raw: &str) -> String {
    let cut: String =
        raw.chars().filter(|c| !c.is_control()).skip_while(|c| c.is_whitespace()).take(MAX_MEMBER_NAME_CHARS).collect();
    cut.trim_end().to_owned()
}

/// Resolves the next page's target against the service URL and keeps it on
/// the service's origin.
fn next_page_url(target: &str, service_url: &HttpsUrl) -> Result<HttpsUrl, NrpsError> {
    let base = service_url.as_url();
    let mut url = base
        .join(target)
        .map_err(|_| NrpsError::InvalidNextPage { error: InvalidValue::NotAUrl { what: "NRPS next page link" } })?;
    // A fragment is never sent to the server; dropping it keeps an otherwise
    // good link usable.
    url.set_fragment(None);
    if url.origin() != base.origin() {
        return Err(NrpsError::ForeignNextPage { origin: truncated(&origin_of(&url), 256) });
    }
    HttpsUrl::parse_named("NRPS next page link", url.as_str()).map_err(|error| NrpsError::InvalidNextPage { error })
}

/// `scheme://host:port` for the log, without the path and query, which may
/// carry a platform's paging tokens.
fn origin_of(url: &Url) -> String {
    match url.origin() {
        origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
        url::Origin::Opaque(_) => url.scheme().to_owned(),
    }
}

// The Link header (RFC 8288 §3) is parsed by hand: nothing in vigil's
// dependency tree parses it (`url` does URLs, `http` only carries header
// values), and the grammar is a few lines. The parser is total: it never
// panics and treats a header it cannot parse as offering no next page, as a
// header without one would be. It cannot log (this crate has no I/O), so an
// unreadable header ends paging quietly; the adapter sees that the roster
// stopped at that page. Only the origin of a next link is strict.

/// The target of the first link whose `rel` includes `next`, if the whole
/// header parses.
fn next_link_target(header: &str) -> Option<&str> {
    let mut p = Cursor { text: header, at: 0 };
    let mut next = None;
    loop {
        p.skip_whitespace();
        // Empty list elements are allowed (RFC 9110 §5.6.1).
        if p.eat(b',') {
            continue;
        }
        if p.at_end() {
            return next;
        }
        let target = p.target()?;
        let mut rel = None;
        loop {
            p.skip_whitespace();
            if p.at_end() || p.eat(b',') {
                break;
            }
            if !p.eat(b';') {
                return None;
            }
            p.skip_whitespace();
            if p.at_end() || matches!(p.peek(), Some(b';' | b',')) {
                continue;
            }
            let name = p.token()?;
            p.skip_whitespace();
            let value = if p.eat(b'=') {
                p.skip_whitespace();
                p.value()?
            } else {
                String::new()
            };
            // Only the first `rel` counts (RFC 8288 §3.3).
            if rel.is_none() && name.eq_ignore_ascii_case("rel") {
                rel = Some(value);
            }
        }
        // `rel` holds space-separated relation types, compared without case.
        let is_next = rel.is_some_and(|rel| rel.split_ascii_whitespace().any(|t| t.eq_ignore_ascii_case("next")));
        if is_next && next.is_none() {
            next = Some(target);
        }
    }
}

/// A position in a header. It only stops on ASCII delimiters, so every
/// slice it takes lies on character boundaries.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn at_end(&self) -> bool {
        self.at >= self.text.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Takes bytes while `keep` holds; `None` if there are none.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> Option<&'a str> {
        let (text, start) = (self.text, self.at);
        while self.peek().is_some_and(&keep) {
            self.at += 1;
        }
        (self.at > start).then(|| &text[start..self.at])
    }

    /// `<URI-Reference>`.
    fn target(&mut self) -> Option<&'a str> {
        if !self.eat(b'<') {
            return None;
        }
        let target = self.take_while(|b| b != b'>').unwrap_or_default();
        self.eat(b'>').then(|| target.trim())
    }

    /// A parameter name: an RFC 9110 token.
    fn token(&mut self) -> Option<&'a str> {
        self.take_while(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    }

    /// A quoted string, unescaped, or an unquoted value. Unquoted values are
    /// read leniently (up to the next delimiter), since platforms write
    /// `rel=next` and the like without caring for token rules.
    fn value(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            let value = self.take_while(|b| !matches!(b, b' ' | b'\t' | b';' | b',' | b'"'));
            return Some(value.unwrap_or_default().to_owned());
        }
        let mut value = String::new();
        loop {
            let run = self.take_while(|b| b != b'"' && b != b'\\').unwrap_or_default();
            value.push_str(run);
            if self.eat(b'"') {
                return Some(value);
            }
            if !self.eat(b'\\') {
                return None; // unterminated
            }
            // The escaped character may be any, including a multi-byte one.
            let escaped = self.text[self.at..].chars().next()?;
            value.push(escaped);
            self.at += escaped.len_utf8();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::roles::{LaunchRole, map_role};

    const LEARNER: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner";
    const INSTRUCTOR: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor";
    const TA: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant";
    const MEMBERSHIPS: &str = "https://lms.example.edu/api/lti/courses/7/names_and_roles";

    fn service() -> NamesRoleService {
        service_at(MEMBERSHIPS)
    }

    fn service_at(url: &str) -> NamesRoleService {
        NamesRoleService {
            context_memberships_url: HttpsUrl::parse(url).unwrap(),
            service_versions: vec!["2.0".into()],
        }
    }

    fn container(members: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": MEMBERSHIPS,
            "context": { "id": "7", "label": "CS101", "title": "Programming" },
            "members": members,
        }))
        .unwrap()
    }

    fn page(members: Vec<Value>) -> MembershipPage {
        parse_membership_page(&container(members), None, &service()).unwrap()
    }

    fn ids(page: &MembershipPage) -> Vec<&str> {
        page.learners.iter().map(|m| m.user_id.as_str()).collect()
    }

    fn learner(user_id: &str) -> Value {
        json!({ "user_id": user_id, "roles": [LEARNER] })
    }

    /// The next page of a header, or its error.
    fn next(header: &str) -> Result<Option<String>, NrpsError> {
        parse_membership_page(&container(vec![]), Some(header), &service())
            .map(|page| page.next.map(|url| url.as_str().to_owned()))
    }

    #[test]
    fn the_learner_filter_is_the_launch_role_mapping() {
        assert_eq!(map_role(LEARNER_ROLE), LaunchRole::Learner);
    }

    #[test]
    fn first_page_asks_for_learners_and_a_page_size() {
        let url = first_membership_page(&service(), 500).unwrap();
        assert_eq!(
            url.as_str(),
            "https://lms.example.edu/api/lti/courses/7/names_and_roles\
             ?role=http%3A%2F%2Fpurl.imsglobal.org%2Fvocab%2Flis%2Fv2%2Fmembership%23Learner&limit=500"
        );
        let pairs: Vec<(String, String)> = url.as_url().query_pairs().into_owned().collect();
        assert_eq!(pairs, vec![("role".into(), LEARNER.into()), ("limit".into(), "500".into())]);
    }

    #[test]
    fn first_page_keeps_the_existing_query_verbatim() {
        let service = service_at("https://lms.example.edu/nrps?context=7&sig=a%2Bb&flag&limit=5&role=Mentor");
        let url = first_membership_page(&service, 100).unwrap();
        assert_eq!(
            url.as_url().query(),
            Some(
                "context=7&sig=a%2Bb&flag\
                 &role=http%3A%2F%2Fpurl.imsglobal.org%2Fvocab%2Flis%2Fv2%2Fmembership%23Learner&limit=100"
            )
        );
        assert_eq!(url.as_url().path(), "/nrps");
    }

    #[test]
    fn first_page_limit_is_clamped_and_length_checked() {
        let query = |limit| first_membership_page(&service(), limit).unwrap().as_url().query().unwrap().to_owned();
        assert!(query(0).ends_with("&limit=1"));
        assert!(query(1_000_000).ends_with("&limit=10000"));

        let long = format!("https://lms.example.edu/{}", "a".repeat(crate::MAX_URL_LEN - 30));
        assert!(matches!(first_membership_page(&service_at(&long), 10), Err(InvalidValue::TooLong { .. })));
    }

    #[test]
    fn only_active_learners_count() {
        let page = page(vec![
            learner("active-learner"),
            json!({ "user_id": "explicitly-active", "status": "Active", "roles": ["Learner"] }),
            json!({ "user_id": "instructor", "status": "Active", "roles": [INSTRUCTOR] }),
            json!({ "user_id": "ta", "roles": [TA] }),
            json!({ "user_id": "instructor-and-learner", "roles": [LEARNER, INSTRUCTOR] }),
            json!({ "user_id": "inactive", "status": "Inactive", "roles": [LEARNER] }),
            json!({ "user_id": "deleted", "status": "Deleted", "roles": [LEARNER] }),
            json!({ "user_id": "mentor", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"] }),
            json!({ "user_id": "no-roles", "roles": [] }),
            json!({ "user_id": "guest", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership/Learner#GuestLearner"] }),
            json!({ "user_id": "faculty-in-class", "roles": [
                LEARNER, "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Faculty"
            ] }),
        ]);
        assert_eq!(ids(&page), vec!["active-learner", "explicitly-active", "guest", "faculty-in-class"]);
        assert_eq!(page.skipped, 0);
        assert_eq!(page.next, None);
    }

    #[test]
    fn names_fall_back_and_are_cleaned() {
        let page = page(vec![
            json!({ "user_id": "a", "roles": [LEARNER], "name": "Ada Lovelace", "given_name": "A", "family_name": "L" }),
            json!({ "user_id": "b", "roles": [LEARNER], "given_name": "Grace", "family_name": "Hopper" }),
            json!({ "user_id": "c", "roles": [LEARNER], "name": " \u{7}", "given_name": "Alan" }),
            json!({ "user_id": "d", "roles": [LEARNER], "family_name": "Turing" }),
            json!({ "user_id": "e", "roles": [LEARNER], "name": "  Emmy\u{0}\n Noether\t " }),
            json!({ "user_id": "f", "roles": [LEARNER], "name": 42, "given_name": "" }),
            json!({ "user_id": "g", "roles": [LEARNER], "name": "é".repeat(300) }),
            json!({ "user_id": "h", "roles": [LEARNER] }),
        ]);
        let names: Vec<Option<&str>> = page.learners.iter().map(|m| m.name.as_deref()).collect();
        let long = "é".repeat(MAX_MEMBER_NAME_CHARS);
        assert_eq!(
            names,
            vec![
                Some("Ada Lovelace"),
                Some("Grace Hopper"),
                Some("Alan"),
                Some("Turing"),
                Some("Emmy Noether"),
                None,
                Some(long.as_str()),
                None,
            ]
        );
        assert_eq!(page.skipped, 0);
    }

    #[test]
    fn malformed_members_are_skipped_and_counted() {
        let page = page(vec![
            json!("not an object"),
            json!({ "roles": [LEARNER] }),
            json!({ "user_id": "", "roles": [LEARNER] }),
            json!({ "user_id": 12, "roles": [LEARNER] }),
            json!({ "user_id": "x".repeat(256), "roles": [LEARNER] }),
            json!({ "user_id": "tab\tbed", "roles": [LEARNER] }),
            json!({ "user_id": "no-roles" }),
            json!({ "user_id": "roles-string", "roles": LEARNER }),
            json!({ "user_id": "roles-mixed", "roles": [LEARNER, 3] }),
            json!({ "user_id": "odd-status", "status": "Suspended", "roles": [LEARNER] }),
            json!({ "user_id": "numeric-status", "status": 1, "roles": [LEARNER] }),
            learner("good"),
        ]);
        assert_eq!(ids(&page), vec!["good"]);
        assert_eq!(page.skipped, 11);
    }

    #[test]
    fn a_body_that_is_not_a_container_is_malformed() {
        let parse = |body: &[u8]| parse_membership_page(body, None, &service());
        assert_eq!(parse(b"<html>Sign in</html>"), Err(NrpsError::Malformed));
        assert_eq!(parse(b""), Err(NrpsError::Malformed));
        assert_eq!(parse(b"[]"), Err(NrpsError::Malformed));
        assert_eq!(parse(br#"{"id": "x"}"#), Err(NrpsError::Malformed));
        assert_eq!(parse(br#"{"members": {"user_id": "a"}}"#), Err(NrpsError::Malformed));
        assert_eq!(parse(br#"{"members": []}"#).unwrap().learners, vec![]);
        assert_eq!(NrpsError::Malformed.reason(), "malformed");
    }

    #[test]
    fn work_is_bounded() {
        let oversize = vec![b' '; MAX_PAGE_BYTES + 1];
        assert_eq!(parse_membership_page(&oversize, None, &service()), Err(NrpsError::TooLarge));

        let many = container(vec![json!({}); MAX_MEMBERS_PER_PAGE + 1]);
        assert!(many.len() <= MAX_PAGE_BYTES);
        let error = parse_membership_page(&many, None, &service()).unwrap_err();
        assert_eq!(error, NrpsError::TooManyMembers { count: MAX_MEMBERS_PER_PAGE + 1 });
        assert_eq!(error.reason(), "too_many_members");

        let full = container(vec![learner("s"); MAX_MEMBERS_PER_PAGE]);
        assert_eq!(parse_membership_page(&full, None, &service()).unwrap().learners.len(), MAX_MEMBERS_PER_PAGE);
    }

    #[test]
    fn next_links_are_found_in_any_spelling() {
        let page2 = "https://lms.example.edu/api/lti/courses/7/names_and_roles?page=2";
        let expected = Ok(Some(page2.to_owned()));
        assert_eq!(next(&format!("<{page2}>; rel=\"next\"")), expected);
        assert_eq!(next(&format!("<{page2}>;rel=next")), expected);
        assert_eq!(next(&format!("<{page2}> ; REL = \"Next\"")), expected);
        assert_eq!(next(&format!("<{page2}>; rel=\"next differences\"")), expected);
        assert_eq!(next(&format!("<{page2}>; title=\"a; b, c\"; rel=\"differences  next\"")), expected);
        assert_eq!(next(&format!("<{page2}>; rel=\"n\\ext\"")), expected);
        assert_eq!(next(&format!("<{page2}>; rel=next;")), expected);
        // Several links, the differences one first, and a comma in a target.
        assert_eq!(
            next(&format!(
                "<https://lms.example.edu/nrps?since=1,2>; rel=\"differences\", , <{page2}>; rel=\"next\", \
                 <https://lms.example.edu/other>; rel=\"next\""
            )),
            expected
        );
        // Only the first `rel` of a link counts.
        assert_eq!(next(&format!("<{page2}>; rel=\"differences\"; rel=\"next\"")), Ok(None));
    }

    #[test]
    fn relative_next_links_resolve_against_the_service() {
        assert_eq!(
            next("<?page=2&limit=50>; rel=\"next\""),
            Ok(Some("https://lms.example.edu/api/lti/courses/7/names_and_roles?page=2&limit=50".into()))
        );
        assert_eq!(next("</nrps/7/p/2>; rel=next"), Ok(Some("https://lms.example.edu/nrps/7/p/2".into())));
        assert_eq!(
            next("<https://LMS.example.edu:443/p/2#top>; rel=next"),
            Ok(Some("https://lms.example.edu/p/2".into()))
        );
    }

    #[test]
    fn next_links_must_stay_on_the_service_origin() {
        let foreign = |origin: &str| Err(NrpsError::ForeignNextPage { origin: origin.into() });
        assert_eq!(next("<https://evil.example.com/p/2>; rel=next"), foreign("https://evil.example.com"));
        assert_eq!(next("<//evil.example.com/p/2>; rel=next"), foreign("https://evil.example.com"));
        assert_eq!(next("<http://lms.example.edu/p/2>; rel=next"), foreign("http://lms.example.edu"));
        assert_eq!(next("<https://lms.example.edu:8443/p/2>; rel=next"), foreign("https://lms.example.edu:8443"));
        assert_eq!(
            next("<https://lms.example.edu.evil.com/p/2>; rel=next"),
            foreign("https://lms.example.edu.evil.com")
        );
        assert_eq!(next("<https://169.254.169.254/latest>; rel=next"), foreign("https://169.254.169.254"));
        assert_eq!(next("<file:///etc/passwd>; rel=next"), foreign("file"));
        assert_eq!(next("<https://evil.example.com/p/2>; rel=next").unwrap_err().reason(), "foreign_next_page");
        // A foreign link that is not `next` is never followed, so not refused.
        assert_eq!(next("<https://evil.example.com/d>; rel=differences"), Ok(None));

        let loopback = service_at("http://127.0.0.1:8080/nrps");
        let body = container(vec![]);
        let parse = |header| parse_membership_page(&body, Some(header), &loopback);
        assert_eq!(
            parse("<http://127.0.0.1:8080/nrps?p=2>; rel=next").unwrap().next.unwrap().as_str(),
            "http://127.0.0.1:8080/nrps?p=2"
        );
        assert_eq!(
            parse("<http://127.0.0.1:9090/nrps?p=2>; rel=next"),
            Err(NrpsError::ForeignNextPage { origin: "http://127.0.0.1:9090".into() })
        );
    }

    #[test]
    fn same_origin_next_links_must_still_be_usable() {
        let error = next("<https://user:pw@lms.example.edu/p/2>; rel=next").unwrap_err();
        assert_eq!(
            error,
            NrpsError::InvalidNextPage { error: InvalidValue::UrlExtras { what: "NRPS next page link" } }
        );
        assert_eq!(error.reason(), "invalid_next_page");
        let long = format!("</{}>; rel=next", "a".repeat(crate::MAX_URL_LEN));
        assert!(matches!(next(&long), Err(NrpsError::InvalidNextPage { error: InvalidValue::TooLong { .. } })));
    }

    #[test]
    fn no_next_link_or_an_unreadable_header_ends_paging() {
        for header in [
            "",
            " , ",
            "<https://lms.example.edu/p/2>; rel=\"differences\"",
            "<https://lms.example.edu/p/2>",
            "<https://lms.example.edu/p/2>; rel",
            "https://lms.example.edu/p/2; rel=next",
            "<https://lms.example.edu/p/2; rel=next",
            "<https://lms.example.edu/p/2>; rel=\"next",
            "<https://lms.example.edu/p/2> rel=next",
            "<https://lms.example.edu/p/2>; =next",
            "<https://lms.example.edu/p/2>; rel=next, garbage",
            "<https://lms.example.edu/p/2>; rel=\"nextpage\"",
            "<https://lms.example.edu/p/2>; rel=\"next\\",
            "<https://lms.example.edu/p/2>; rel=\"é\\",
        ] {
            assert_eq!(next(header), Ok(None), "{header:?}");
        }
        let page = parse_membership_page(&container(vec![learner("s")]), None, &service()).unwrap();
        assert_eq!(ids(&page), vec!["s"]);
        assert_eq!(page.next, None);
    }

    #[test]
    fn the_page_and_its_link_come_back_together() {
        let body = container(vec![learner("s1"), json!([]), learner("s2")]);
        let page = parse_membership_page(&body, Some("</nrps?p=2>; rel=\"next\""), &service()).unwrap();
        assert_eq!(ids(&page), vec!["s1", "s2"]);
        assert_eq!(page.skipped, 1);
        assert_eq!(page.next.unwrap().as_str(), "https://lms.example.edu/nrps?p=2");
    }
}
