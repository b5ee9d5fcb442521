//! Compiles `proto/` with a vendored protoc, so a build needs nothing but cargo.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build reads PROTOC; setting it here is fine in a single-threaded build script.
    std::env::set_var("PROTOC", protoc);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        "proto/ddc/v1/admin.proto",
        "proto/ddc/v1/audit.proto",
        "proto/ddc/v1/classification.proto",
        "proto/ddc/v1/ingest.proto",
        "proto/ddc/v1/project.proto",
        "proto/ddc/v1/release.proto",
    ];
    tonic_prost_build::configure()
        // Our codec answers an undecodable message with INVALID_ARGUMENT.
        .codec_path("crate::service::codec::DdcCodec")
        .file_descriptor_set_path(out.join("ddc_descriptor.bin"))
        .compile_protos(&files, &["proto"])?;
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-changed=proto/ddc/v1/common.proto");
    Ok(())
}
