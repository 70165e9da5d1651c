//! The note store over the in-memory pipe: create, get, page through, delete,
//! and the errors and limits a client can run into.

#![allow(clippy::unwrap_used)]

use aqueduct::{Channel, Code, MemoryListener, Server};
use notes::pb::notes_client::NotesClient;
use notes::pb::*;
use notes::{ERROR_DOMAIN, MAX_PAGE, MAX_TAGS, MAX_TITLE, NoteStore};

async fn client() -> NotesClient {
    let listener = MemoryListener::anonymous();
    let channel = Channel::memory(listener.connector());
    tokio::spawn(
        Server::builder()
            .add_service(NoteStore::service())
            .serve(listener),
    );
    NotesClient::new(channel)
}

fn create(title: &str) -> CreateNoteRequest {
    CreateNoteRequest {
        title: title.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_get_list_and_delete() {
    let notes = client().await;
    let milk = notes
        .create_note(CreateNoteRequest {
            title: "milk".into(),
            body: "two litres".into(),
            tags: vec!["shopping".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(milk.id, "1");
    assert!(milk.create_time.is_some(), "the server stamps the note");
    for title in ["eggs", "bread"] {
        notes.create_note(create(title)).await.unwrap();
    }
    let got = notes
        .get_note(GetNoteRequest { id: "1".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, milk);

    // Two pages of two, then one.
    let mut titles = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = notes
            .list_notes(ListNotesRequest {
                page_size: 2,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        titles.extend(page.notes.into_iter().map(|n| n.title));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(titles, ["milk", "eggs", "bread"]);
    assert_eq!(pages, 2);

    notes
        .delete_note(DeleteNoteRequest { id: "2".into() })
        .await
        .unwrap();
    let gone = notes
        .get_note(GetNoteRequest { id: "2".into() })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound, "{gone}");
    let again = notes
        .delete_note(DeleteNoteRequest { id: "2".into() })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound, "{again}");
}

#[tokio::test]
async fn bad_requests_are_invalid_argument() {
    let notes = client().await;
    let bad = [
        notes.create_note(create("")).await.unwrap_err(),
        notes
            .create_note(create(&"x".repeat(MAX_TITLE + 1)))
            .await
            .unwrap_err(),
        notes
            .create_note(CreateNoteRequest {
                title: "tagged".into(),
                tags: vec!["t".into(); MAX_TAGS + 1],
                ..Default::default()
            })
            .await
            .unwrap_err(),
        notes
            .get_note(GetNoteRequest { id: "one".into() })
            .await
            .unwrap_err(),
        notes
            .list_notes(ListNotesRequest {
                page_size: -1,
                ..Default::default()
            })
            .await
            .unwrap_err(),
        notes
            .list_notes(ListNotesRequest {
                page_token: "forged".into(),
                ..Default::default()
            })
            .await
            .unwrap_err(),
    ];
    for status in bad {
        assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    }
}

#[tokio::test]
async fn a_bad_field_carries_bad_request_and_error_info_details() {
    let notes = client().await;
    let status = notes
        .create_note(CreateNoteRequest {
            title: "tagged".into(),
            tags: vec!["t".into(); MAX_TAGS + 1],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    let details = status.error_details().unwrap();
    let violations = details.bad_request.unwrap().field_violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].field, "tags");
    assert_eq!(
        violations[0].description,
        format!("are {}; at most {MAX_TAGS}", MAX_TAGS + 1)
    );
    let info = details.error_info.unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("TOO_MANY_TAGS", ERROR_DOMAIN)
    );
    assert_eq!(info.metadata.get("field").map(String::as_str), Some("tags"));
}

#[tokio::test]
async fn a_page_holds_at_most_the_maximum() {
    let notes = client().await;
    for i in 0..=MAX_PAGE {
        notes.create_note(create(&format!("n{i}"))).await.unwrap();
    }
    let page = notes
        .list_notes(ListNotesRequest {
            page_size: i32::MAX,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.notes.len(), MAX_PAGE);
    assert_eq!(page.next_page_token, MAX_PAGE.to_string());
}

fn update(note: Note, paths: &[&str]) -> UpdateNoteRequest {
    UpdateNoteRequest {
        note: Some(note),
        update_mask: Some(aqueduct::prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    }
}

#[tokio::test]
async fn update_changes_exactly_the_masked_fields() {
    let notes = client().await;
    let stored = notes
        .create_note(CreateNoteRequest {
            title: "milk".into(),
            body: "two litres".into(),
            tags: vec!["shopping".into(), "today".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let patch = Note {
        id: stored.id.clone(),
        title: "oat milk".into(),
        body: "ignored: not in the mask".into(),
        tags: vec!["groceries".into()],
        create_time: None,
    };

    // The title only.
    let updated = notes
        .update_note(update(patch.clone(), &[Note::PATH_TITLE]))
        .await
        .unwrap()
        .into_inner();
    let want = Note {
        title: "oat milk".into(),
        ..stored.clone()
    };
    assert_eq!(updated, want);
    let got = notes
        .get_note(GetNoteRequest {
            id: stored.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, want, "the store has the update");

    // Tags are replaced, not appended to; output-only fields stay whatever
    // the mask says.
    let updated = notes
        .update_note(update(patch.clone(), &["tags", "create_time", "id"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.tags, ["groceries"]);
    assert_eq!(updated.create_time, stored.create_time);
    assert_eq!(updated.id, stored.id);

    // An empty mask: every field set in the note.
    let updated = notes
        .update_note(update(
            Note {
                id: stored.id.clone(),
                body: "one litre".into(),
                ..Note::default()
            },
            &[],
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.title.as_str(), updated.body.as_str()),
        ("oat milk", "one litre")
    );
}

#[tokio::test]
async fn update_errors_name_the_problem() {
    let notes = client().await;
    let stored = notes
        .create_note(create("milk"))
        .await
        .unwrap()
        .into_inner();
    let patch = Note {
        id: stored.id.clone(),
        ..Note::default()
    };
    for (request, code, says) in [
        (
            update(patch.clone(), &["titel"]),
            Code::InvalidArgument,
            "\"titel\"",
        ),
        (
            update(patch.clone(), &["create_time.seconds"]),
            Code::InvalidArgument,
            "create_time.seconds",
        ),
        // Masking the title with an empty title in the note empties it: the
        // store refuses an empty title.
        (
            update(patch.clone(), &["title"]),
            Code::InvalidArgument,
            "title",
        ),
        (
            update(
                Note {
                    id: "99".into(),
                    ..Note::default()
                },
                &["title"],
            ),
            Code::NotFound,
            "no note 99",
        ),
        (
            UpdateNoteRequest {
                note: None,
                update_mask: None,
            },
            Code::InvalidArgument,
            "note is required",
        ),
    ] {
        let status = notes.update_note(request).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(status.message().contains(says), "{status:?}");
    }
    let got = notes
        .get_note(GetNoteRequest { id: stored.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.title, "milk", "failed updates change nothing");
}
