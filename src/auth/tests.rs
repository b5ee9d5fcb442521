use super::*;

#[test]
fn roles_are_named_as_in_certificates() {
    for role in Role::ALL {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("Provider"), None);
    assert_eq!(Role::parse("root"), None);
}

#[test]
fn deny_lists_match_serials_however_they_are_written() {
    let deny = DenyList::new(["0A:1b", "00ff"]);
    assert!(deny.contains(&normal_serial("a1b")));
    assert!(deny.contains(&normal_serial("FF")));
    assert!(!deny.contains(&normal_serial("a1c")));
}

#[test]
fn a_request_the_edge_did_not_identify_is_nobody() {
    let request = tonic::Request::new(());
    assert_eq!(caller(&request).subject(), "unidentified");
    let mut request = tonic::Request::new(());
    request.extensions_mut().insert(Caller::development());
    assert_eq!(caller(&request), Caller::development());
}
