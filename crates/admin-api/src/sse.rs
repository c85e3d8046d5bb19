//! Reading `/admin/v1/events`: a minimal server-sent-events decoder (the subset
//! the IdP writes: `id`, `event`, `data`, comments for keep-alive) over a
//! streaming response, so the console can follow changes live and resume with
//! `Last-Event-ID` after a drop.

use crate::{ChangeEvent, ClientError};

/// One frame from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Change(ChangeEvent),
    /// The reader lagged; reconnect with the last id seen to catch up.
    Resync,
}

/// An open event stream.
pub struct EventStream {
    resp: reqwest::Response,
    decoder: Decoder,
}

impl EventStream {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        Self {
            resp,
            decoder: Decoder::default(),
        }
    }

    /// The next frame; `Ok(None)` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<Frame>, ClientError> {
        loop {
            if let Some(f) = self.decoder.next_frame()? {
                return Ok(Some(f));
            }
            match self.resp.chunk().await {
                Ok(Some(bytes)) => self.decoder.push(&bytes),
                Ok(None) => return Ok(None),
                Err(e) => return Err(ClientError::Unreachable(e.without_url().to_string())),
            }
        }
    }
}

/// Splits bytes into events at blank lines and decodes each.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: String,
    pending: Vec<u8>,
}

impl Decoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        // Only whole UTF-8 sequences move to the text buffer.
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text: Vec<u8> = self.pending.drain(..valid).collect();
        self.buf
            .push_str(std::str::from_utf8(&text).expect("validated"));
        if self.buf.contains('\r') {
            self.buf = self.buf.replace("\r\n", "\n");
        }
    }

    /// The next complete frame, skipping keep-alive comments and unknown events.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ClientError> {
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let (mut event, mut data) = (None, String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim_start().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            match event.as_deref() {
                None if data.is_empty() => continue,
                Some("resync") => return Ok(Some(Frame::Resync)),
                _ => {
                    let change: ChangeEvent = serde_json::from_str(&data).map_err(|e| {
                        ClientError::Protocol(format!("an event that is not a change: {e}"))
                    })?;
                    return Ok(Some(Frame::Change(change)));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks_and_keepalives_are_decoded_in_order() {
        let mut d = Decoder::default();
        let wire = ": keep-alive\n\nid: 7\nevent: request.created\ndata: {\"id\":7,\"kind\":\"request.created\",\"target\":\"req_1\",\"at_ms\":5}\n\nevent: resync\ndata: {}\r\n\r\n";
        // Feed one byte at a time: every boundary is exercised.
        let mut frames = vec![];
        for b in wire.as_bytes() {
            d.push(std::slice::from_ref(b));
            while let Some(f) = d.next_frame().unwrap() {
                frames.push(f);
            }
        }
        assert_eq!(
            frames,
            vec![
                Frame::Change(ChangeEvent {
                    id: 7,
                    kind: crate::ChangeKind::RequestCreated,
                    target: "req_1".into(),
                    at_ms: 5
                }),
                Frame::Resync
            ]
        );
    }

    #[test]
    fn a_garbled_event_is_a_protocol_error_not_a_silent_skip() {
        let mut d = Decoder::default();
        d.push(b"event: request.created\ndata: not json\n\n");
        assert!(matches!(d.next_frame(), Err(ClientError::Protocol(_))));
    }
}
