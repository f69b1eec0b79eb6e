//! Files: uploads streamed to the object store (a local directory, or S3) without holding them in
//! memory, their content sniffed against an allow-list and hashed on the way; downloads streamed
//! back, whole or a byte range. Who may read a file follows what it is attached to: an event's
//! image anyone, a chat message's attachment that chat's members, anything else its owner and
//! admins (everyone else is told it does not exist).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use tessera_domain::files::{RangeAsk, SNIFF_BYTES, clean_filename, sniff};
use tessera_domain::id::{EventId, FileId, UserId};
use tessera_domain::records::StoredFile;

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// Where files go and how large they may be.
#[derive(Debug, Clone)]
pub struct FilesConfig {
    /// The local directory (when no bucket is set).
    pub dir: PathBuf,
    /// An S3 bucket (credentials, region and endpoint from the usual `AWS_*` variables).
    pub s3_bucket: Option<String>,
    /// S3 settings over those of the environment, as object_store names them
    /// (`aws_endpoint`, `aws_region`, `aws_allow_http`, …).
    pub s3_options: Vec<(String, String)>,
    /// The largest upload, in bytes (413 beyond).
    pub max_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        FilesConfig {
            dir: PathBuf::from("files"),
            s3_bucket: None,
            s3_options: Vec::new(),
            max_bytes: 100 * 1024 * 1024,
        }
    }
}

/// Parts written to the store at once while uploading (each part up to 5 MiB is buffered).
const PARTS_IN_FLIGHT: usize = 2;

/// The object store behind the files, and where in it they are.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    store: Arc<dyn ObjectStore>,
    root: ObjectPath,
}

impl Storage {
    /// The store as configured. The local directory is made when the first file is written.
    pub(crate) fn open(c: &FilesConfig) -> Result<Storage> {
        if let Some(bucket) = &c.s3_bucket {
            return s3(bucket, &c.s3_options);
        }
        let dir = std::path::absolute(&c.dir)
            .map_err(|e| AppError::internal(format!("files directory {}: {e}", c.dir.display())))?;
        let root = ObjectPath::from_absolute_path(&dir).map_err(AppError::internal)?;
        Ok(Storage { store: Arc::new(object_store::local::LocalFileSystem::new()), root })
    }

    fn path(&self, file_id: FileId) -> ObjectPath {
        self.root.clone().join("files").join(file_id.to_string().as_str())
    }
}

#[cfg(feature = "s3")]
fn s3(bucket: &str, options: &[(String, String)]) -> Result<Storage> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
    for (k, v) in options {
        let key: AmazonS3ConfigKey = k.parse().map_err(AppError::internal)?;
        b = b.with_config(key, v);
    }
    Ok(Storage { store: Arc::new(b.build().map_err(AppError::internal)?), root: ObjectPath::default() })
}

#[cfg(not(feature = "s3"))]
fn s3(_bucket: &str, _options: &[(String, String)]) -> Result<Storage> {
    Err(AppError::internal("TESSERA_FILES_S3_BUCKET needs a build with the `aws` feature"))
}

fn storage_error(e: object_store::Error) -> AppError {
    AppError::Unavailable(format!("file storage: {e}"))
}

/// An upload on its way to the store. Dropped before `finish`, it is abandoned and the parts
/// written so far are removed.
pub struct Upload {
    app: App,
    file_id: FileId,
    owner_id: UserId,
    event_id: Option<EventId>,
    writer: Option<WriteMultipart>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
    content_type: Option<&'static str>,
}

impl App {
    /// Starts an upload for the caller, or (admins) for `on_behalf_of` (404 if there is no such
    /// user); with `event_id`, the file is that event's image (its organizer or an admin).
    pub async fn begin_upload(
        &self,
        who: &Principal,
        on_behalf_of: Option<UserId>,
        event_id: Option<EventId>,
    ) -> Result<Upload> {
        let owner_id = match on_behalf_of {
            Some(u) if u != who.user_id && !who.is_admin() => {
                return Err(AppError::Forbidden("only admins upload on someone else's behalf"));
            }
            Some(u) => {
                if self.store.user_by_id(u).await?.is_none() {
                    return Err(AppError::NotFound("user"));
                }
                u
            }
            None => who.user_id,
        };
        if let Some(ev) = event_id {
            self.owned_event(who, ev, "only the event's organizer or an admin adds its images").await?;
        }
        let file_id = FileId::new();
        let upload =
            self.storage.store.put_multipart(&self.storage.path(file_id)).await.map_err(storage_error)?;
        Ok(Upload {
            app: self.clone(),
            file_id,
            owner_id,
            event_id,
            writer: Some(WriteMultipart::new(upload)),
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(SNIFF_BYTES),
            content_type: None,
        })
    }

    /// A file's description, for whoever may read it.
    pub async fn file(&self, who: Option<&Principal>, file_id: FileId) -> Result<StoredFile> {
        let f = self.store.file(file_id).await?.ok_or(AppError::NotFound("file"))?;
        if f.event_id.is_some() {
            return Ok(f);
        }
        let who = who.ok_or(AppError::Unauthorized("sign in to read this file"))?;
        if who.owns_or_admin(Some(f.owner_id)) || self.store.file_shared_with(file_id, who.user_id).await? {
            Ok(f)
        } else {
            Err(AppError::NotFound("file"))
        }
    }

    /// The bytes (or the asked part) of a file that [`App::file`] let the caller read: the
    /// handler checks access once and reads the description's size, ETag and type from it.
    pub async fn download(&self, file: StoredFile, range: RangeAsk) -> Result<Download> {
        let file_id = file.file_id;
        let (opts, part) = match range {
            RangeAsk::Whole => (GetOptions::new(), None),
            RangeAsk::Part { start, end } => {
                (GetOptions::new().with_range(Some(GetRange::Bounded(start..end + 1))), Some((start, end)))
            }
            RangeAsk::Unsatisfiable => return Err(AppError::invalid("range", "outside the file")),
        };
        let got =
            self.storage.store.get_opts(&self.storage.path(file_id), opts).await.map_err(storage_error)?;
        let body = got.into_stream().map(|r| r.map_err(std::io::Error::other)).boxed();
        Ok(Download { file, part, body })
    }

    /// Deletes a file (its owner or an admin): the bytes go; the row stays, marked deleted.
    pub async fn delete_file(&self, who: &Principal, file_id: FileId) -> Result<()> {
        let f = self.file(Some(who), file_id).await?;
        if !who.owns_or_admin(Some(f.owner_id)) {
            return Err(AppError::Forbidden("only its owner or an admin deletes a file"));
        }
        if self.store.delete_file(file_id, self.now()).await? {
            // The row says deleted whatever happens here; bytes left behind are only garbage.
            if let Err(e) = self.storage.store.delete(&self.storage.path(file_id)).await {
                tracing::warn!(cause = %e, %file_id, "deleted file's bytes not removed");
            }
        }
        Ok(())
    }

    /// A file the sender may attach to a message: their own.
    pub(crate) async fn attachable(&self, who: &Principal, file_id: FileId) -> Result<()> {
        match self.store.file(file_id).await? {
            Some(f) if f.owner_id == who.user_id => Ok(()),
            _ => Err(AppError::NotFound("file")),
        }
    }
}

/// A file's bytes on their way out.
pub struct Download {
    pub file: StoredFile,
    /// The part sent (`start..=end`), or `None` for the whole file.
    pub part: Option<(u64, u64)>,
    pub body: BoxStream<'static, std::io::Result<Bytes>>,
}

impl Upload {
    /// Adds the next bytes. Refused (and the upload abandoned) past the size limit or when the
    /// first bytes are not of an accepted type.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let limit = self.app.config.files.max_bytes;
        self.size += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        if self.size > limit {
            return Err(AppError::TooLarge { limit });
        }
        if self.content_type.is_none() && self.head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() >= SNIFF_BYTES {
                self.content_type = Some(self.sniffed()?);
            }
        }
        self.hasher.update(chunk);
        let w = self.writer.as_mut().ok_or_else(|| AppError::internal("upload already finished"))?;
        w.write(chunk);
        // Bounds what is held in memory: a part is written before more are buffered.
        w.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(storage_error)
    }

    fn sniffed(&self) -> Result<&'static str> {
        sniff(&self.head).ok_or_else(|| {
            AppError::Unsupported("accepted: PNG, JPEG, GIF or WebP images, PDF, and plain UTF-8 text".into())
        })
    }

    /// Completes the upload and records the file.
    pub async fn finish(mut self, filename: Option<&str>) -> Result<StoredFile> {
        if self.size == 0 {
            return Err(AppError::invalid("file", "is empty"));
        }
        let content_type = match self.content_type {
            Some(t) => t,
            None => self.sniffed()?,
        };
        let writer = self.writer.take().ok_or_else(|| AppError::internal("upload already finished"))?;
        writer.finish().await.map_err(storage_error)?;
        let digest = std::mem::take(&mut self.hasher).finalize();
        let file = StoredFile {
            file_id: self.file_id,
            owner_id: self.owner_id,
            event_id: self.event_id,
            filename: clean_filename(filename),
            content_type: content_type.to_string(),
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            created_at: self.app.now(),
            deleted_at: None,
        };
        if let Err(e) = self.app.store.insert_file(&file).await {
            let _ = self.app.storage.store.delete(&self.app.storage.path(self.file_id)).await;
            return Err(e.into());
        }
        Ok(file)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = w.abort().await;
            });
        }
    }
}
