//! The protobuf codec of every ddc service: tonic-prost's, except that a
//! message that does not decode is the sender's fault.
//!
//! `tonic_prost::ProstCodec` answers an undecodable request with INTERNAL
//! (following grpc's status-code table, which files parse errors under
//! INTERNAL). To a client that says "the server is broken" when the request
//! is: ddc answers INVALID_ARGUMENT with reason `MALFORMED_MESSAGE`. The
//! decoder's own description is not passed on, as it may quote bytes of the
//! message. `build.rs` wires this codec into the generated servers and
//! clients (`codec_path`); on the client side the same mapping applies to a
//! response that does not decode.

use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use super::reason::Reason;
use super::status::refusal;

/// [`ProstCodec`] with decode errors mapped to INVALID_ARGUMENT.
#[derive(Debug)]
pub(crate) struct DdcCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for DdcCodec<T, U> {
    fn default() -> Self {
        DdcCodec {
            inner: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for DdcCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = DdcDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        DdcDecoder {
            inner: self.inner.decoder(),
        }
    }
}

/// [`ProstDecoder`] whose errors are INVALID_ARGUMENT.
#[derive(Debug)]
pub(crate) struct DdcDecoder<U> {
    inner: ProstDecoder<U>,
}

impl<U: prost::Message + Default> Decoder for DdcDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // The prost decoder fails only when the bytes are not a message of type U.
        self.inner.decode(buf).map_err(|_| {
            refusal(
                tonic::Code::InvalidArgument,
                "the message is not a valid protobuf encoding of the method's request type",
                Reason::MalformedMessage,
            )
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}
