//! `gatehouse://` links — from a chat message, a browser, a notification click,
//! or the command line of a second launch — all checked by the one parser here,
//! so each way a link arrives gets the same answer. A link names one screen and
//! one id (`gatehouse://requests/ID`, `…/connections/ID`, `…/reviews/ID`,
//! `…/clients/ID`); any
//! other shape is refused with a sentence a person can act on, and nothing else
//! happens: no query, no fragment, no encoded bytes, nothing long is honoured.

use schemars::JsonSchema;
use serde::Serialize;

/// The URL scheme the console registers with the OS.
pub const SCHEME: &str = "gatehouse";

/// Longest link honoured (an id is a prefix and 32 hex digits; a little slack).
const MAX_LINK: usize = 256;
const MAX_ID: usize = 128;

/// The screen a link opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkScreen {
    /// A connection request (`gatehouse://requests/req_…`).
    Requests,
    /// A connection (`gatehouse://connections/conn_…`).
    Connections,
    /// An access review campaign (`gatehouse://reviews/rev_…`).
    Reviews,
    /// An AI client (`gatehouse://clients/code-agent`), in the directory.
    Clients,
}

impl LinkScreen {
    fn from_host(host: &str) -> Option<LinkScreen> {
        match host {
            "requests" => Some(LinkScreen::Requests),
            "connections" => Some(LinkScreen::Connections),
            "reviews" => Some(LinkScreen::Reviews),
            "clients" => Some(LinkScreen::Clients),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkScreen::Requests => "requests",
            LinkScreen::Connections => "connections",
            LinkScreen::Reviews => "reviews",
            LinkScreen::Clients => "clients",
        }
    }
}

/// What became of the last link the console was handed: open a screen at an
/// id, or a refusal to show (the link itself is not echoed back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpenedLink {
    Open { screen: LinkScreen, id: String },
    Refused { message: String },
}

impl OpenedLink {
    /// The link for a thing, as notifications and chat messages carry it.
    pub fn link(screen: LinkScreen, id: &str) -> String {
        format!("{SCHEME}://{}/{id}", screen.as_str())
    }
}

const SHAPE: &str = "Gatehouse links look like gatehouse://requests/ID, gatehouse://connections/ID, gatehouse://reviews/ID or gatehouse://clients/ID.";

fn refused(why: &str) -> OpenedLink {
    OpenedLink::Refused {
        message: format!("This link cannot be opened: {why}. {SHAPE} Nothing was changed."),
    }
}

/// Parses one link. Never fails: a bad link is a [`OpenedLink::Refused`].
pub fn parse(link: &str) -> OpenedLink {
    if link.len() > MAX_LINK {
        return refused("it is too long");
    }
    let Some((scheme, rest)) = link.split_once("://") else {
        return refused("it is not a gatehouse:// link");
    };
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return refused("it is not a gatehouse:// link");
    }
    if rest.contains(['?', '#']) {
        return refused("links carry no query or fragment");
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut parts = rest.split('/');
    let (Some(host), Some(id), None) = (parts.next(), parts.next(), parts.next()) else {
        return refused("it does not name one screen and one id");
    };
    let Some(screen) = LinkScreen::from_host(&host.to_ascii_lowercase()) else {
        return refused("it names no screen the console has");
    };
    let id_ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b == b'_'
                || b == b'-'
                // A client id may hold dots (`a-z 0-9 - _ .`).
                || (b == b'.' && screen == LinkScreen::Clients)
        });
    if !id_ok {
        return refused("its id is malformed");
    }
    OpenedLink::Open {
        screen,
        id: id.to_string(),
    }
}

/// The last link among a launch's command-line arguments (the OS hands a link
/// to the app as an argument on Linux and Windows), if any argument looks like one.
pub fn from_args<S: AsRef<str>>(args: impl IntoIterator<Item = S>) -> Option<OpenedLink> {
    args.into_iter()
        .filter(|a| {
            let a = a.as_ref();
            a.get(..SCHEME.len() + 1)
                .is_some_and(|head| head.eq_ignore_ascii_case("gatehouse:"))
        })
        .last()
        .map(|a| parse(a.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(screen: LinkScreen, id: &str) -> OpenedLink {
        OpenedLink::Open {
            screen,
            id: id.into(),
        }
    }

    #[test]
    fn each_screen_opens_at_its_id() {
        let id = "req_0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse(&format!("gatehouse://requests/{id}")),
            open(LinkScreen::Requests, id)
        );
        assert_eq!(
            parse("gatehouse://connections/conn_1/"),
            open(LinkScreen::Connections, "conn_1")
        );
        assert_eq!(
            parse("GateHouse://Reviews/rev_9"),
            open(LinkScreen::Reviews, "rev_9")
        );
        assert_eq!(
            parse("gatehouse://clients/support.copilot-2"),
            open(LinkScreen::Clients, "support.copilot-2")
        );
        for screen in [
            LinkScreen::Requests,
            LinkScreen::Connections,
            LinkScreen::Reviews,
            LinkScreen::Clients,
        ] {
            assert_eq!(parse(&OpenedLink::link(screen, "x_1")), open(screen, "x_1"));
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_reason_and_the_shape() {
        let cases = [
            ("gatehouse://requests", "one screen and one id"),
            ("gatehouse://requests/", "one screen and one id"),
            ("gatehouse://requests/a/b", "one screen and one id"),
            ("gatehouse://settings/x", "no screen"),
            ("gatehouse://requests/a%2Fb", "malformed"),
            ("gatehouse://requests/a.b", "malformed"),
            ("gatehouse://requests/<script>", "malformed"),
            ("gatehouse://requests/a?approve=1", "no query"),
            ("gatehouse://requests/a#x", "no query"),
            ("https://requests/a", "not a gatehouse"),
            ("gatehouse:requests/a", "not a gatehouse"),
            ("", "not a gatehouse"),
        ];
        for (link, why) in cases {
            let OpenedLink::Refused { message } = parse(link) else {
                panic!("{link} was honoured");
            };
            assert!(message.contains(why), "{link}: {message}");
            assert!(message.contains("gatehouse://requests/ID"), "{message}");
            assert!(message.contains("Nothing was changed"), "{message}");
        }
        let long = format!("gatehouse://requests/{}", "a".repeat(300));
        assert!(
            matches!(parse(&long), OpenedLink::Refused { message } if message.contains("too long"))
        );
        let id = "a".repeat(MAX_ID + 1);
        assert!(matches!(
            parse(&format!("gatehouse://requests/{id}")),
            OpenedLink::Refused { .. }
        ));
    }

    #[test]
    fn a_refusal_does_not_echo_the_link() {
        let OpenedLink::Refused { message } = parse("gatehouse://requests/<img src=x>") else {
            panic!("honoured");
        };
        assert!(!message.contains("<img"), "{message}");
    }

    #[test]
    fn the_last_link_among_the_arguments_is_taken() {
        let args = ["/usr/bin/gatehouse", "--verbose", "gatehouse://requests/r1"];
        assert_eq!(from_args(args), Some(open(LinkScreen::Requests, "r1")));
        assert_eq!(from_args(["/usr/bin/gatehouse"]), None);
        assert_eq!(from_args(["gatehouse"]), None, "the program's own name");
        assert!(matches!(
            from_args(["gatehouse", "GATEHOUSE:nope"]),
            Some(OpenedLink::Refused { .. })
        ));
    }
}
