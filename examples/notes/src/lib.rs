//! The Notes example: a small in-memory note store whose messages use
//! well-known types (`google.protobuf.Timestamp`, `google.protobuf.Empty`),
//! served with health and reflection so `grpcurl` and `buf curl` can explore
//! and call it with no `.proto` file at hand. A bad field of a note is
//! `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming it and an
//! `ErrorInfo` with a stable reason, which `grpcurl` prints decoded (reflection
//! serves the error-details protos).
//!
//! Run it with `cargo run -p notes --example notes-server`, or with `aqueduct
//! serve`, which mounts it next to the interop test service; `docs/health-and-reflection.md`
//! shows the `grpcurl` and `buf curl` sessions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aqueduct::details::{ErrorDetails, FieldViolation};
use aqueduct::{Request, Response, Status};

/// Generated messages, server and client for `notes.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    aqueduct::include_proto!("notes.v1");
}

use pb::notes_server::{Notes, NotesServer};
use pb::*;

/// Most notes the store holds; creating more is `RESOURCE_EXHAUSTED`.
pub const MAX_NOTES: usize = 10_000;
/// Longest title, in bytes.
pub const MAX_TITLE: usize = 200;
/// Longest body, in bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Most tags on a note.
pub const MAX_TAGS: usize = 16;
/// Largest and default page of `ListNotes`.
pub const MAX_PAGE: usize = 100;

/// The note store: the `Notes` implementation.
#[derive(Debug, Default)]
pub struct NoteStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_id: u64,
    notes: BTreeMap<u64, Note>,
}

impl NoteStore {
    /// The store as a service to mount: `Server::builder().add_service(NoteStore::service())`.
    #[must_use]
    pub fn service() -> NotesServer<NoteStore> {
        NotesServer::new(NoteStore::default())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A handler that panicked mid-update leaves nothing half-done (each
        // change is one insert or remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn parse_id(id: &str) -> Result<u64, Status> {
    id.parse()
        .map_err(|_| Status::invalid_argument(format!("id {id:?} is not a note id")))
}

fn check_note(request: &CreateNoteRequest) -> Result<(), Status> {
    check_fields(&request.title, &request.body, &request.tags)
}

fn check_fields(title: &str, body: &str, tags: &[String]) -> Result<(), Status> {
    if title.is_empty() {
        return Err(bad_field(
            "title",
            "TITLE_EMPTY",
            "must not be empty".into(),
        ));
    }
    if title.len() > MAX_TITLE {
        return Err(bad_field(
            "title",
            "TITLE_TOO_LONG",
            format!("is {} bytes; at most {MAX_TITLE}", title.len()),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(bad_field(
            "body",
            "BODY_TOO_LONG",
            format!("is {} bytes; at most {MAX_BODY}", body.len()),
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(bad_field(
            "tags",
            "TOO_MANY_TAGS",
            format!("are {}; at most {MAX_TAGS}", tags.len()),
        ));
    }
    Ok(())
}

/// The domain of the notes service's `google.rpc.ErrorInfo` reasons.
pub const ERROR_DOMAIN: &str = "notes.example";

/// `INVALID_ARGUMENT` for one bad field of a note, with the standard details
/// a client can act on (a `BadRequest` naming the field, an `ErrorInfo` with
/// a stable reason), which `grpcurl` prints decoded through reflection.
fn bad_field(field: &str, reason: &str, description: String) -> Status {
    Status::invalid_argument(format!("{field} {description}")).with_error_details(
        ErrorDetails::new()
            .bad_request(vec![FieldViolation::new(field, description)])
            .error_info(reason, ERROR_DOMAIN, [("field", field)]),
    )
}

impl Notes for NoteStore {
    async fn create_note(
        &self,
        request: Request<CreateNoteRequest>,
    ) -> Result<Response<Note>, Status> {
        let request = request.into_inner();
        check_note(&request)?;
        let mut state = self.state();
        if state.notes.len() >= MAX_NOTES {
            return Err(Status::resource_exhausted(format!(
                "the store is full ({MAX_NOTES} notes)"
            )));
        }
        state.last_id += 1;
        let note = Note {
            id: state.last_id.to_string(),
            title: request.title,
            body: request.body,
            tags: request.tags,
            create_time: Some(std::time::SystemTime::now().into()),
        };
        let id = state.last_id;
        state.notes.insert(id, note.clone());
        Ok(Response::new(note))
    }

    async fn get_note(&self, request: Request<GetNoteRequest>) -> Result<Response<Note>, Status> {
        let id = parse_id(&request.get_ref().id)?;
        match self.state().notes.get(&id) {
            Some(note) => Ok(Response::new(note.clone())),
            None => Err(Status::not_found(format!("no note {id}"))),
        }
    }

    async fn list_notes(
        &self,
        request: Request<ListNotesRequest>,
    ) -> Result<Response<ListNotesResponse>, Status> {
        let request = request.into_inner();
        let page = match usize::try_from(request.page_size) {
            Ok(0) => MAX_PAGE,
            Ok(n) => n.min(MAX_PAGE),
            Err(_) => return Err(Status::invalid_argument("page_size must not be negative")),
        };
        let after = if request.page_token.is_empty() {
            0
        } else {
            parse_id(&request.page_token)
                .map_err(|_| Status::invalid_argument("page_token is not one we gave out"))?
        };
        let state = self.state();
        let mut rest = state.notes.range(after.saturating_add(1)..);
        let notes: Vec<Note> = rest.by_ref().take(page).map(|(_, n)| n.clone()).collect();
        let next_page_token = match (rest.next(), notes.last()) {
            (Some(_), Some(last)) => last.id.clone(),
            _ => String::new(),
        };
        Ok(Response::new(ListNotesResponse {
            notes,
            next_page_token,
        }))
    }

    async fn update_note(
        &self,
        request: Request<UpdateNoteRequest>,
    ) -> Result<Response<Note>, Status> {
        let UpdateNoteRequest { note, update_mask } = request.into_inner();
        let patch = note.ok_or_else(|| Status::invalid_argument("note is required"))?;
        let mask = update_mask.unwrap_or_default();
        // Bad paths are INVALID_ARGUMENT naming the path, before any lookup.
        Note::validate_mask(&mask)?;
        let id = parse_id(&patch.id)?;
        let mut state = self.state();
        let Some(stored) = state.notes.get_mut(&id) else {
            return Err(Status::not_found(format!("no note {id}")));
        };
        let mut updated = stored.clone();
        updated.apply_mask(&patch, &mask)?;
        // Output only: whatever the mask says, these stay.
        updated.id.clone_from(&stored.id);
        updated.create_time = stored.create_time;
        check_fields(&updated.title, &updated.body, &updated.tags)?;
        stored.clone_from(&updated);
        Ok(Response::new(updated))
    }

    async fn delete_note(
        &self,
        request: Request<DeleteNoteRequest>,
    ) -> Result<Response<()>, Status> {
        let id = parse_id(&request.get_ref().id)?;
        match self.state().notes.remove(&id) {
            Some(_) => Ok(Response::new(())),
            None => Err(Status::not_found(format!("no note {id}"))),
        }
    }
}
