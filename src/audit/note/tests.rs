use super::*;
use proptest::prelude::*;

// Published vectors from golang/mod, sumdb/note/note_test.go
// (golang.org/x/mod/sumdb/note): TestNewVerifier, TestSign, TestOpen.
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// The example checkpoint body of C2SP/C2SP, tlog-checkpoint.md.
const C2SP_BODY: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

/// Decodes Go's "PRIVATE+KEY+<name>+<id>+base64(0x01 ‖ seed)" into (name, seed).
fn go_signer_key(skey: &str) -> (String, [u8; 32]) {
    let parts: Vec<&str> = skey.splitn(5, '+').collect();
    assert_eq!(&parts[..2], ["PRIVATE", "KEY"]);
    let key = BASE64.decode(parts[4]).expect("base64");
    assert_eq!(key[0], ALG_ED25519);
    (
        parts[2].to_owned(),
        key[1..].try_into().expect("32-byte seed"),
    )
}

fn peter() -> Signer {
    let (name, seed) = go_signer_key(PETER_SKEY);
    Signer::from_seed(&name, &seed).expect("signer")
}

fn verifier(vkey: &str) -> Verifier {
    Verifier::parse(vkey).expect("verifier")
}

fn test_signer(name: &str, byte: u8) -> Signer {
    Signer::from_seed(name, &[byte; 32]).expect("signer")
}

/// The signature lines of a note signed once.
fn signature_lines(note: &str) -> &str {
    let split = note.rfind("\n\n").expect("blank line");
    &note[split + 2..]
}

#[test]
fn go_signer_reproduces_published_note() {
    let signer = peter();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.verifier().encode(), PETER_VKEY);
    assert_eq!(signer.verifier(), verifier(PETER_VKEY));
    assert_eq!(signer.sign(TEXT), Ok(format!("{TEXT}\n{PETER_SIG}")));
}

#[test]
fn go_verifier_vectors() {
    let peter = verifier(PETER_VKEY);
    assert_eq!(peter.name(), "PeterNeumann");
    assert_eq!(peter.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(peter.to_string(), PETER_VKEY);
    let enoch = verifier(ENOCH_VKEY);
    assert_eq!(enoch.key_id(), [0xaf, 0x0c, 0xfe, 0x78]);
    assert_eq!(enoch.encode(), ENOCH_VKEY);

    let note = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(peter.verify(&note), Ok(TEXT));
    assert_eq!(enoch.verify(&note), Ok(TEXT));
    let other = test_signer("PeterNeumann", 9).verifier();
    assert_eq!(
        other.verify(&note),
        Err(NoteError::NoSignatureByKey("PeterNeumann".into()))
    );

    // Repeated signatures, and an unknown key's corrupt signature, are fine.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let note = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
    assert_eq!(peter.verify(&note), Ok(TEXT));

    // A corrupt signature by the known key rejects the note.
    let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        peter.verify(&bad),
        Err(NoteError::BadSignature("PeterNeumann".into()))
    );

    // 100 signatures are accepted, 101 are not.
    assert_eq!(
        peter.verify(&format!("{TEXT}\n{}", PETER_SIG.repeat(100))),
        Ok(TEXT)
    );
    assert_eq!(
        peter.verify(&format!("{TEXT}\n{}", PETER_SIG.repeat(101))),
        Err(NoteError::TooManySignatures)
    );
}

#[test]
fn go_malformed_notes() {
    let peter = verifier(PETER_VKEY);
    let bad_notes = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
        // Not from Go's table:
        format!("{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
        format!("{TEXT}\n\u{2014} PeterNeumann\n"),
        format!("{TEXT}\n\u{2014} PeterNeumann AAAA\n"),
        format!("{TEXT}\n\u{2014} PeterNeumann not!base64\n"),
        format!("{TEXT}\n{PETER_SIG}\n"),
        format!("If you think\r\n\n{PETER_SIG}"),
        String::new(),
        "\n".to_owned(),
        "\n\n".to_owned(),
    ];
    for note in bad_notes {
        let result = peter.verify(&note);
        assert!(
            matches!(result, Err(NoteError::MalformedNote(_))),
            "{note:?} gave {result:?}"
        );
    }
}

#[test]
fn go_mangled_verifier_keys_are_rejected() {
    let bytes = PETER_VKEY.as_bytes();
    for i in 0..=bytes.len() {
        for j in i + 1..=bytes.len() {
            if (i, j) != (0, bytes.len()) {
                let sub = &PETER_VKEY[i..j];
                assert!(Verifier::parse(sub).is_err(), "{sub:?}");
            }
        }
    }
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        mangled[i] += 1;
        let mangled = String::from_utf8(mangled).expect("ascii");
        assert!(Verifier::parse(&mangled).is_err(), "{mangled:?}");
    }
    // Wrong key length and unknown algorithm, each with an adjusted key id.
    let wrong_len = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==";
    assert!(Verifier::parse(wrong_len).is_err());
    let unknown_alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    assert_eq!(
        Verifier::parse(unknown_alg),
        Err(NoteError::UnsupportedAlgorithm(0x65))
    );
    let upper = PETER_VKEY.replace("c74f20a3", "C74F20A3");
    assert!(Verifier::parse(&upper).is_err());
}

#[test]
fn bad_names_and_bodies() {
    for name in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{1}b", "a\nb"] {
        assert_eq!(
            Signer::from_seed(name, &[1; 32]).err(),
            Some(NoteError::InvalidKeyName),
            "{name:?}"
        );
    }
    let signer = test_signer("log.example/ddc", 1);
    for body in ["", "abc", "abc\r\n", "a\u{0}b\n", "tab\there\n"] {
        assert!(
            matches!(signer.sign(body), Err(NoteError::MalformedNote(_))),
            "{body:?}"
        );
    }
    assert!(signer.sign("\n").is_ok());
    let debug = format!("{signer:?}");
    assert!(debug.contains("log.example/ddc"));
    assert!(!debug.contains("[1, 1"), "{debug}");
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "ddc.example/audit".to_owned(),
        size: 1234,
        root: *b"0123456789abcdef0123456789abcdef",
    }
}

#[test]
fn checkpoint_round_trip() {
    let signer = test_signer("ddc.example/audit-key", 7);
    let cp = checkpoint();
    let note = signer.sign(&cp.body()).expect("sign");
    assert_eq!(open_checkpoint(&note, &signer.verifier()), Ok(cp.clone()));
    assert_eq!(signer.verifier().verify(&note), Ok(cp.body().as_str()));
    let empty = Checkpoint {
        size: 0,
        ..cp.clone()
    };
    assert_eq!(Checkpoint::parse(&empty.body()), Ok(empty));
    let max = Checkpoint {
        size: u64::MAX,
        ..cp
    };
    assert_eq!(Checkpoint::parse(&max.body()), Ok(max));
}

#[test]
fn c2sp_example_checkpoint_parses() {
    let cp = Checkpoint::parse(C2SP_BODY).expect("parse");
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(cp.body(), C2SP_BODY);
    let with_ext = format!("{C2SP_BODY}ext one\nanother extension\n");
    assert_eq!(Checkpoint::parse(&with_ext), Ok(cp));
}

#[test]
fn tampering_any_ascii_byte_fails() {
    let signer = test_signer("ddc.example/audit-key", 7);
    let verifier = signer.verifier();
    let note = signer.sign(&checkpoint().body()).expect("sign");
    for (pos, c) in note.char_indices() {
        if !c.is_ascii() {
            continue;
        }
        let replacement = if c == 'A' { "B" } else { "A" };
        let mut tampered = note.clone();
        tampered.replace_range(pos..pos + 1, replacement);
        assert!(open_checkpoint(&tampered, &verifier).is_err(), "byte {pos}");
    }
    let dashless = note.replace('\u{2014}', "-");
    assert!(verifier.verify(&dashless).is_err());
}

#[test]
fn other_keys_are_ignored_but_one_must_verify() {
    let ours = test_signer("ddc.example/audit-key", 7);
    let theirs = test_signer("witness.example", 8);
    // Same name, different key: ignored as well (the key id differs).
    let impostor = test_signer("ddc.example/audit-key", 9);
    let body = checkpoint().body();
    let note_ours = ours.sign(&body).expect("sign");
    let note_theirs = theirs.sign(&body).expect("sign");
    let note_impostor = impostor.sign(&body).expect("sign");
    let no_sig = Err(NoteError::NoSignatureByKey("ddc.example/audit-key".into()));
    assert_eq!(open_checkpoint(&note_theirs, &ours.verifier()), no_sig);
    assert_eq!(
        ours.verifier().verify(&note_impostor),
        no_sig.map(|_: Checkpoint| "")
    );
    let both = format!("{note_theirs}{}", signature_lines(&note_ours));
    assert_eq!(open_checkpoint(&both, &ours.verifier()), Ok(checkpoint()));
    assert_eq!(open_checkpoint(&both, &theirs.verifier()), Ok(checkpoint()));
    let mixed = format!("{note_ours}{}", signature_lines(&note_impostor));
    assert_eq!(ours.verifier().verify(&mixed), Ok(body.as_str()));
    // A signature by our key over a different body is a bad signature.
    let other_body = Checkpoint {
        size: 1235,
        ..checkpoint()
    }
    .body();
    let foreign = ours.sign(&other_body).expect("sign");
    let spliced = format!("{body}\n{}", signature_lines(&foreign));
    assert_eq!(
        ours.verifier().verify(&spliced),
        Err(NoteError::BadSignature("ddc.example/audit-key".into()))
    );
}

#[test]
fn malformed_checkpoints() {
    let root = BASE64.encode([0u8; 32]);
    let short = BASE64.encode([0u8; 31]);
    let long = BASE64.encode([0u8; 33]);
    let unpadded = root.trim_end_matches('=').to_owned();
    let cases: Vec<(String, usize)> = vec![
        (String::new(), 1),
        ("o\n5\n".to_owned() + &root, 3),
        ("o\n".to_owned(), 2),
        ("o\n5\n".to_owned(), 3),
        (format!("\n5\n{root}\n"), 1),
        (format!("o\n\n{root}\n"), 2),
        (format!("o\n05\n{root}\n"), 2),
        (format!("o\n00\n{root}\n"), 2),
        (format!("o\n+5\n{root}\n"), 2),
        (format!("o\n-5\n{root}\n"), 2),
        (format!("o\n 5\n{root}\n"), 2),
        (format!("o\n5 \n{root}\n"), 2),
        (format!("o\n0x5\n{root}\n"), 2),
        (format!("o\n18446744073709551616\n{root}\n"), 2),
        (format!("o\n\u{0663}\n{root}\n"), 2),
        (format!("o\n5\n{short}\n"), 3),
        (format!("o\n5\n{long}\n"), 3),
        (format!("o\n5\n{unpadded}\n"), 3),
        (format!("o\n5\n{}\n", hex(&[0u8; 32])), 3),
        (format!("o\n5\n{root}\n\n"), 4),
        (format!("o\n5\n{root}\next\n\n"), 5),
        (format!("o\r\n5\n{root}\n"), 1),
        (format!("o\n5\n{root}\nex\u{7}t\n"), 4),
    ];
    for (body, line) in cases {
        match Checkpoint::parse(&body) {
            Err(NoteError::MalformedCheckpoint { line: got, .. }) => {
                assert_eq!(got, line, "{body:?}")
            }
            other => panic!("{body:?} gave {other:?}"),
        }
    }
    // A signed note whose body is not a checkpoint.
    let signer = test_signer("k", 3);
    let note = signer.sign("just text\n").expect("sign");
    assert!(matches!(
        open_checkpoint(&note, &signer.verifier()),
        Err(NoteError::MalformedCheckpoint { line: 2, .. })
    ));
}

/// Strings built from the note alphabet, to reach past the first checks.
fn note_like() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\u{2014} ".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("+".to_owned()),
        Just("=".to_owned()),
        Just("PeterNeumann".to_owned()),
        Just("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=".to_owned()),
        "[A-Za-z0-9/+=]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parsers_never_panic(s in any::<String>(), t in note_like()) {
        let peter = verifier(PETER_VKEY);
        for input in [&s, &t] {
            let _ = Verifier::parse(input);
            let _ = Checkpoint::parse(input);
            let _ = peter.verify(input);
            let _ = open_checkpoint(input, &peter);
            let _ = peter.verify(&format!("{TEXT}\n{input}"));
            let _ = Verifier::parse(&format!("PeterNeumann+c74f20a3+{input}"));
        }
    }

    #[test]
    fn signed_checkpoints_round_trip(size in any::<u64>(), root in any::<[u8; 32]>(), seed in any::<[u8; 32]>()) {
        let signer = Signer::from_seed("ddc.example/audit", &seed).expect("signer");
        let cp = Checkpoint { origin: "ddc.example/audit".to_owned(), size, root };
        let note = signer.sign(&cp.body()).expect("sign");
        prop_assert_eq!(open_checkpoint(&note, &signer.verifier()), Ok(cp));
        prop_assert_eq!(Verifier::parse(&signer.verifier().encode()), Ok(signer.verifier()));
    }
}
