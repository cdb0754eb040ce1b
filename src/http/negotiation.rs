//! Content negotiation: the media type a GraphQL response travels as, from `Accept`, and the
//! status code each type gives an answer.
//!
//! The response media type follows `Accept` (docs/reference.md, "Routes"): `application/json` by
//! default, where every GraphQL response is HTTP 200; `application/graphql-response+json` when
//! the client prefers it, where a request that fails before execution is HTTP 400 without a
//! `data` entry. A batch is 400 only when every one of its operations failed before execution:
//! one status has to describe them all, and once any operation ran, its result is real data the
//! client must not discard. A client that accepts neither type gets 406, as the
//! GraphQL-over-HTTP specification recommends (its alternative, ignoring `Accept`, would hand a
//! client a type it said it cannot read).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::graphql::Phase;

/// The media types a GraphQL response travels as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
    /// `application/json`: the default; every GraphQL response is HTTP 200.
    Json,
    /// `application/graphql-response+json`: the status code tells a bad request from a result.
    GraphqlResponse,
}

impl MediaType {
    const fn essence(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::GraphqlResponse => "application/graphql-response+json",
        }
    }

    pub(super) fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }

    /// Whether an answer in this type keeps its `data` entry: every answer does, but one refused
    /// before execution for an `application/graphql-response+json` client.
    pub(super) fn keeps_data(self, phase: Phase) -> bool {
        self == Self::Json || phase == Phase::Executed
    }

    /// The status of a response whose operations ended in `phases`: 400 for an
    /// `application/graphql-response+json` client when none of them reached execution, 200
    /// otherwise.
    pub(super) fn status(self, phases: impl IntoIterator<Item = Phase>) -> StatusCode {
        if self == Self::GraphqlResponse && phases.into_iter().all(|p| p == Phase::Refused) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        }
    }

    /// The type to answer in, from `Accept` (RFC 9110 §12.5.1); `None` when the client accepts
    /// neither. No `Accept`, or only wildcards, means `application/json`. Between the two, the
    /// higher q-value wins, then a range that names the type over a wildcard, then the range
    /// listed first.
    pub(super) fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let ranges: Vec<(&str, u16)> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(parse_range)
            .collect();
        if ranges.is_empty() {
            return Some(Self::Json);
        }
        // For each type: (q, specificity, earlier position) of its most specific range.
        let rank = |media: Self| {
            let (main, _) = media.essence().split_once('/').unwrap_or_default();
            ranges
                .iter()
                .enumerate()
                .filter_map(|(index, &(range, q))| {
                    let specificity = if range.eq_ignore_ascii_case(media.essence()) {
                        2
                    } else if range
                        .strip_suffix("/*")
                        .is_some_and(|m| m.eq_ignore_ascii_case(main))
                    {
                        1
                    } else if range == "*/*" {
                        0
                    } else {
                        return None;
                    };
                    Some((specificity, q, std::cmp::Reverse(index)))
                })
                .max()
                .map(|(specificity, q, index)| (q, specificity, index))
                .filter(|&(q, _, _)| q > 0)
        };
        // `max_by_key` keeps the last of equal keys: `Json` last makes it win a full tie.
        [Self::GraphqlResponse, Self::Json]
            .into_iter()
            .filter_map(|media| rank(media).map(|r| (media, r)))
            .max_by_key(|&(_, r)| r)
            .map(|(media, _)| media)
    }
}

/// One element of `Accept`: the media range and its q-value in thousandths.
fn parse_range(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';').map(str::trim);
    let range = parts.next().filter(|r| !r.is_empty())?;
    let q = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .map_or(1000, |(_, value)| {
            value
                .trim()
                .parse::<f32>()
                .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u16)
        });
    Some((range, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, value.parse().expect("header value"));
        }
        headers
    }

    #[test]
    fn the_answer_type_follows_accept_by_q_value_then_specificity_then_order() {
        use MediaType::{GraphqlResponse as Strict, Json};
        let cases: [(&[&str], Option<MediaType>); 20] = [
            (&[], Some(Json)),
            (&[""], Some(Json)),
            (&["*/*"], Some(Json)),
            (&["application/*"], Some(Json)),
            (&["application/json"], Some(Json)),
            (&["Application/JSON; charset=utf-8"], Some(Json)),
            (&["application/graphql-response+json"], Some(Strict)),
            (
                &["application/graphql-response+json, application/json;q=0.9"],
                Some(Strict),
            ),
            (
                &["application/json;q=0.5, application/graphql-response+json"],
                Some(Strict),
            ),
            // Equal q and specificity: the range listed first.
            (
                &["application/json, application/graphql-response+json"],
                Some(Json),
            ),
            (
                &["application/graphql-response+json, application/json"],
                Some(Strict),
            ),
            // A range naming the type beats a wildcard of the same q.
            (&["*/*, application/graphql-response+json"], Some(Strict)),
            // The q of a type is the q of its most specific range, even when lower.
            (
                &["application/*;q=0.3, application/graphql-response+json;q=0.2"],
                Some(Json),
            ),
            (&["application/graphql-response+json;q=0, */*"], Some(Json)),
            (&["text/html, */*;q=0.8"], Some(Json)),
            (&["text/html"], None),
            (&["application/json;q=0"], None),
            (&["application/json;q=nope"], None),
            (
                &["application/json;q=7, application/graphql-response+json"],
                Some(Json),
            ),
            // Every `Accept` header counts, as one list.
            (
                &[
                    "application/json;q=0.1",
                    "application/graphql-response+json",
                ],
                Some(Strict),
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(
                MediaType::negotiate(&accepting(accept)),
                expected,
                "{accept:?}"
            );
        }
    }

    #[test]
    fn an_accept_element_is_read_as_its_range_and_q_in_thousandths() {
        let cases = [
            ("application/json", Some(("application/json", 1000))),
            (" text/html ; level=1 ; Q=0.25 ", Some(("text/html", 250))),
            ("*/*;q=0.0005", Some(("*/*", 1))),
            ("*/*;q=-1", Some(("*/*", 0))),
            ("*/*;q=", Some(("*/*", 0))),
            ("", None),
            (" ;q=1", None),
        ];
        for (element, expected) in cases {
            assert_eq!(parse_range(element), expected, "{element:?}");
        }
    }

    #[test]
    fn only_a_strict_client_is_told_400_and_only_when_nothing_ran() {
        use MediaType::{GraphqlResponse as Strict, Json};
        use Phase::{Executed, Refused};
        let cases: [(MediaType, &[Phase], StatusCode); 7] = [
            (Json, &[Refused], StatusCode::OK),
            (Json, &[Refused, Refused], StatusCode::OK),
            (Strict, &[Refused], StatusCode::BAD_REQUEST),
            (Strict, &[Executed], StatusCode::OK),
            (Strict, &[Refused, Refused], StatusCode::BAD_REQUEST),
            (Strict, &[Refused, Executed], StatusCode::OK),
            (Strict, &[Executed, Refused], StatusCode::OK),
        ];
        for (media, phases, expected) in cases {
            assert_eq!(
                media.status(phases.iter().copied()),
                expected,
                "{media:?} {phases:?}"
            );
        }
        assert!(Json.keeps_data(Refused));
        assert!(Json.keeps_data(Executed));
        assert!(Strict.keeps_data(Executed));
        assert!(
            !Strict.keeps_data(Refused),
            "refused, for a strict client: no data"
        );
    }
}
