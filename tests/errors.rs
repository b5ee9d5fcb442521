//! What a refused client is told: the right code for malformed bytes and
//! unknown enum values, field violations as machine-readable paths, a
//! stable reason on every refusal, error-detail types served by reflection,
//! and never a value the caller sent.

mod common;

use common::{bsns, fields, reason, said, table_request, TestServer};
use ddc::disclosure::DisclosurePolicy;
use ddc::proto::{self, Filter, TableRequest};
use prost::bytes::{Buf, BufMut};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_reflection::pb::v1::{
    server_reflection_client::ServerReflectionClient, server_reflection_request::MessageRequest,
    server_reflection_response::MessageResponse, ServerReflectionRequest,
};

const DS: &str = "duo.err";
/// A valid BSN (it passes the eleven test), typed where names and values go.
const BSN: &str = "249566758";

async fn server() -> TestServer {
    let mut s = TestServer::start().await;
    s.create(DS, "pgn", &["niveau:cat:havo,vwo", "leerjaar:int"])
        .await;
    s
}

async fn server_with_data() -> TestServer {
    let mut s = server().await;
    let rows: String = bsns(3).iter().map(|id| format!("{id},havo,3\n")).collect();
    s.upload(DS, &format!("pgn,niveau,leerjaar\n{rows}"))
        .await
        .unwrap();
    s
}

/// Whether `s` follows the documented path grammar:
/// `name ("[" digits "]")* ("." name ("[" digits "]")*)*`, names lower-case.
fn is_path(s: &str) -> bool {
    s.split('.').all(|segment| {
        let (name, mut rest) = segment.split_at(segment.find('[').unwrap_or(segment.len()));
        let mut name_chars = name.chars();
        let name_ok = matches!(name_chars.next(), Some('a'..='z'))
            && name_chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'));
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(end) = inner.find(']') else {
                return false;
            };
            if end == 0 || !inner[..end].bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            rest = &inner[end + 1..];
        }
        name_ok && rest.is_empty()
    })
}

// ---- 10(a): malformed bytes -------------------------------------------

/// Sends and receives raw bytes, so a test can put anything on the wire.
#[derive(Clone, Copy, Default)]
struct RawCodec;
struct Raw;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

async fn channel(s: &TestServer) -> Channel {
    Channel::from_shared(s.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn raw_call(s: &TestServer, method: &'static str, body: &[u8]) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel(s).await);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(body.to_vec()),
        PathAndQuery::from_static(method),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_is_not_protobuf_is_invalid_argument() {
    let s = server().await;
    // A length-delimited field 1 promising 5 bytes and holding 1; a run of
    // 0xff (a varint that never ends); an invalid wire type.
    let bodies: [&[u8]; 3] = [&[0x0a, 0x05, b'a'], &[0xff; 12], &[0x0f, 0x01]];
    for method in [
        "/ddc.v1.Release/Tabulate",
        "/ddc.v1.Ingest/CreateDataset",
        "/ddc.v1.Ingest/GetDataset",
    ] {
        for body in bodies {
            let status = raw_call(&s, method, body).await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{method} {status:?}");
            assert_eq!(reason(&status).0, "MALFORMED_MESSAGE");
        }
    }
    // The raw client itself is sound: a valid (empty) message is answered.
    raw_call(&s, "/ddc.v1.Ingest/ListDatasets", &[])
        .await
        .unwrap();
    s.stop().await;
}

// ---- 10(b): unknown enum values -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_enum_values_are_refused_at_their_field() {
    let mut s = server_with_data().await;
    let request = TableRequest {
        measure: 7,
        ..table_request(&["duo.err.niveau"], &[])
    };
    let status = s.table(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["measure"]);
    assert_eq!(reason(&status).0, "INVALID_REQUEST");

    let mut column = ddc::cli::parse_column_spec("inkomen:int").unwrap();
    column.unit = 9;
    let status = s
        .clients
        .ingest
        .create_dataset(proto::CreateDatasetRequest {
            name: "cbs.units".into(),
            organisation: "cbs".into(),
            schema: Some(proto::Schema {
                identifier_column: "bsn".into(),
                columns: vec![column],
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["schema.columns[0].unit"]);
    assert_eq!(reason(&status).0, "INVALID_DEFINITION");
    s.stop().await;
}

// ---- 10(c): control characters in category labels -----------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_declared_categories_are_refused() {
    let mut s = TestServer::start().await;
    for label in ["a\0b", "red\u{1b}[0m", "two\nlines"] {
        let columns = vec![proto::Column {
            name: "kleur".into(),
            kind: Some(proto::column::Kind::Categorical(proto::Categorical {
                categories: vec!["ok".into(), label.into()],
                ..Default::default()
            })),
            unit: 0,
        }];
        let status = s
            .clients
            .ingest
            .create_dataset(proto::CreateDatasetRequest {
                name: "cbs.kleur".into(),
                organisation: "cbs".into(),
                schema: Some(proto::Schema {
                    identifier_column: "bsn".into(),
                    columns,
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(
            fields(&status),
            ["schema.columns[0].categorical.categories[1]"]
        );
        assert!(!said(&status).contains(label));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_uploaded_open_categories_are_row_problems() {
    let mut s = TestServer::start().await;
    s.create("cbs.open", "bsn", &["plaats:open"]).await;
    let ids = bsns(3);
    let csv = format!(
        "bsn,plaats\n{},Delft\n{},Del\0ft\n{},Ede\u{7}\n",
        ids[0], ids[1], ids[2]
    );
    let status = s.upload("cbs.open", &csv).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status).0, "INVALID_ROWS");
    assert_eq!(fields(&status), ["rows[2].plaats", "rows[3].plaats"]);
    let told = said(&status);
    assert!(told.contains("control characters"), "{told}");
    assert!(!told.contains("Del") && !told.contains("Ede"), "{told}");
    assert_eq!(s.version("cbs.open").await, 0);
    s.stop().await;
}

// ---- 10(d): no value of the caller's is ever echoed ------------------------

fn filter(variable: &str, values: &[&str]) -> Filter {
    Filter {
        variable: variable.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
        negate: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_values_typed_as_a_bsn_never_come_back() {
    let mut s = server_with_data().await;
    let unknown_dataset = format!("{BSN}.niveau");
    let unknown_column = format!("{DS}.{BSN}");
    let requests = [
        table_request(&[unknown_dataset.as_str()], &[]),
        table_request(&[unknown_column.as_str()], &[]),
        TableRequest {
            filters: vec![filter("duo.err.niveau", &["havo", BSN])],
            ..table_request(&["duo.err.niveau"], &[])
        },
        TableRequest {
            filters: vec![filter(&unknown_column, &[BSN])],
            ..table_request(&["duo.err.niveau"], &[])
        },
        TableRequest {
            datasets: vec![BSN.into()],
            ..table_request(&["duo.err.niveau"], &[])
        },
        TableRequest {
            measure: proto::MeasureKind::Sum as i32,
            variable: unknown_column.clone(),
            ..table_request(&["duo.err.niveau"], &[])
        },
    ];
    let mut statuses = Vec::new();
    for r in requests {
        statuses.push(s.table(r).await.unwrap_err());
    }
    let linkage = s
        .clients
        .release
        .linkage(proto::LinkageRequest {
            datasets: vec![DS.into(), BSN.into()],
            ..Default::default()
        })
        .await;
    statuses.push(linkage.unwrap_err());
    let get = s
        .clients
        .ingest
        .get_dataset(proto::GetDatasetRequest { name: BSN.into() })
        .await;
    statuses.push(get.unwrap_err());
    statuses.push(s.upload(BSN, "pgn\n").await.unwrap_err());
    // A file without its header line: an identifier where a column name goes.
    let headerless = format!("{BSN},havo,3\n{},vwo,4\n", bsns(1)[0]);
    statuses.push(
        s.upload_with(DS, &headerless, false, true)
            .await
            .unwrap_err(),
    );
    // A declaration whose organisation is a BSN.
    let create = s
        .clients
        .ingest
        .create_dataset(proto::CreateDatasetRequest {
            name: format!("duo.{BSN}"),
            organisation: BSN.into(),
            schema: Some(proto::Schema {
                identifier_column: "bsn".into(),
                ..Default::default()
            }),
        })
        .await;
    statuses.push(create.unwrap_err());

    let expected = [
        (Code::NotFound, "group_by[0]"),
        (Code::NotFound, "group_by[0]"),
        (Code::InvalidArgument, "filters[0].values[1]"),
        (Code::NotFound, "filters[0].variable"),
        (Code::NotFound, "datasets[0]"),
        (Code::NotFound, "variable"),
        (Code::NotFound, "datasets[1]"),
        (Code::NotFound, "name"),
        (Code::NotFound, "header.dataset"),
        (Code::InvalidArgument, "header"),
        (Code::InvalidArgument, "organisation"),
    ];
    assert_eq!(statuses.len(), expected.len());
    for (status, (code, field)) in statuses.iter().zip(expected) {
        assert_eq!(status.code(), code, "{status:?}");
        let told = said(status);
        assert!(told.contains(field), "{field}: {told}");
        assert!(!told.contains(BSN), "{told}");
        // Nor any 8-digit tail of it, nor the identifier as a pseudonym would be.
        assert!(!told.contains(&BSN[1..]), "{told}");
    }
    s.stop().await;
}

// ---- 11(a): reflection knows the error-detail types -----------------------

/// The one field of `google.protobuf.FileDescriptorProto` the test reads.
#[derive(Clone, PartialEq, prost::Message)]
struct FileName {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
}

async fn reflect(s: &TestServer, request: MessageRequest) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(s).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("a response");
    match response.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|raw| {
                <FileName as prost::Message>::decode(raw.as_slice())
                    .unwrap()
                    .name
                    .unwrap_or_default()
            })
            .collect(),
        other => panic!("not a file descriptor response: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_serves_the_error_detail_types() {
    let s = TestServer::start().await;
    // tonic-types names the file `error_details.proto` (not googleapis'
    // `google/rpc/error_details.proto`); clients resolve by symbol.
    for symbol in ["google.rpc.BadRequest", "google.rpc.ErrorInfo"] {
        let files = reflect(&s, MessageRequest::FileContainingSymbol(symbol.into())).await;
        assert!(
            files.iter().any(|f| f.ends_with("error_details.proto")),
            "{symbol}: {files:?}"
        );
    }
    // Its import resolves too, so a client can build the descriptor pool.
    let files = reflect(
        &s,
        MessageRequest::FileByFilename("google/protobuf/duration.proto".into()),
    )
    .await;
    assert!(files.iter().any(|f| f == "google/protobuf/duration.proto"));
    s.stop().await;
}

// ---- 11(b): violation fields are paths ------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_violation_field_is_a_path() {
    let mut s = server_with_data().await;
    let ids = bsns(4);
    let rows = format!(
        "pgn,niveau,leerjaar\n{},mavo,3\n{},havo\n{},havo,drie\n",
        ids[0], ids[1], ids[2]
    );
    let mut statuses = vec![
        s.upload_with(DS, &rows, false, true).await.unwrap_err(),
        s.upload_with(DS, "pgn,niveau,extra\n", false, true)
            .await
            .unwrap_err(),
        s.try_create("cbs.x", "bsn", &["a:cat:p,p", "Bad:int", "c:dec:12"])
            .await
            .unwrap_err(),
    ];
    let filtered = TableRequest {
        filters: vec![filter("duo.err.niveau", &["havo", "mavo"])],
        ..table_request(&["duo.err.niveau"], &[])
    };
    statuses.push(s.table(filtered).await.unwrap_err());
    let twice = table_request(&["duo.err.niveau", "duo.err.niveau"], &[]);
    statuses.push(s.table(twice).await.unwrap_err());

    let all: Vec<String> = statuses.iter().flat_map(fields).collect();
    for f in &all {
        assert!(is_path(f), "not a path: {f}");
    }
    for expected in [
        "rows[1].niveau",
        "rows[2]",
        "rows[3].leerjaar",
        "header",
        "header.leerjaar",
        "schema.columns[0].categorical.categories[1]",
        "schema.columns[1].name",
        "schema.columns[2].decimal.scale",
        "filters[0].values[1]",
        "group_by[1]",
    ] {
        assert!(all.iter().any(|f| f == expected), "{expected} in {all:?}");
    }
    assert!(!is_path("row 2, column pgn") && !is_path("a[") && !is_path("a[x]"));
    s.stop().await;
}

// ---- 11(c): every refusal carries a stable reason ----------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_a_stable_reason() {
    let mut s = server_with_data().await;
    let csv = format!("pgn,niveau,leerjaar\n{},havo,3\n", bsns(1)[0]);
    let mut cases: Vec<(Status, Code, &str)> = vec![
        (
            s.table(table_request(&["duo.nope.niveau"], &[]))
                .await
                .unwrap_err(),
            Code::NotFound,
            "DATASET_NOT_FOUND",
        ),
        (
            s.table(table_request(&["duo.err.kleur"], &[]))
                .await
                .unwrap_err(),
            Code::NotFound,
            "COLUMN_NOT_FOUND",
        ),
        (
            s.table(table_request(&["duo.err.leerjaar"], &[]))
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "INVALID_REQUEST",
        ),
        (
            s.try_create(DS, "pgn", &["x:int"]).await.unwrap_err(),
            Code::AlreadyExists,
            "DATASET_EXISTS",
        ),
        (
            s.upload(DS, &csv).await.unwrap_err(),
            Code::FailedPrecondition,
            "DATASET_HAS_DATA",
        ),
        (
            s.upload_with(DS, "pgn,niveau\n", false, true)
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "INVALID_HEADER",
        ),
        (
            s.upload_with(DS, "pgn,niveau,leerjaar\n", false, true)
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "NO_ROWS",
        ),
        (
            s.upload_with(DS, "pgn,niveau,leerjaar\n1,havo,3\n", false, true)
                .await
                .unwrap_err(),
            Code::InvalidArgument,
            "INVALID_ROWS",
        ),
    ];
    s.create("cbs.empty", "bsn", &["d:cat:a"]).await;
    cases.push((
        s.table(table_request(&["cbs.empty.d"], &[]))
            .await
            .unwrap_err(),
        Code::FailedPrecondition,
        "DATASET_HAS_NO_DATA",
    ));
    for (status, code, expected) in &cases {
        assert_eq!(status.code(), *code, "{status:?}");
        assert_eq!(reason(status).0, *expected, "{status:?}");
    }
    // A NOT_FOUND says which request field named the missing thing.
    assert_eq!(reason(&cases[0].0).1.as_deref(), Some("group_by[0]"));
    s.stop().await;
}

/// The differencing set-up of tests/cross_release.rs, in small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_differencing_refusal_says_population_differencing() {
    let mut s = TestServer::start_with_policy(DisclosurePolicy::default()).await;
    s.create(
        "cbs.people",
        "bsn",
        &[
            "region:cat:r1,r2",
            "age:cat:20-24,40-44",
            "decile:cat:1,2,3,4,5",
        ],
    )
    .await;
    let mut csv = String::from("bsn,region,age,decile\n");
    for (i, id) in bsns(400).iter().enumerate() {
        let (region, age) = match i {
            0..9 => ("r1", "40-44"),
            _ => (if i % 2 == 0 { "r1" } else { "r2" }, "20-24"),
        };
        csv.push_str(&format!("{id},{region},{age},{}\n", 1 + i % 5));
    }
    s.upload("cbs.people", &csv).await.unwrap();
    let all = table_request(&["cbs.people.decile"], &[("cbs.people.region", &["r1"])]);
    let mut minus = all.clone();
    minus.filters.push(Filter {
        negate: true,
        ..filter("cbs.people.age", &["40-44"])
    });
    s.table(all).await.unwrap();
    let refused = s.table(minus).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused).0, "POPULATION_DIFFERENCING");
    s.stop().await;
}
