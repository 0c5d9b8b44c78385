//! The index writer: created on the first write (tantivy allows one writer per index, held by a
//! lock); a write commits and reloads the reader before it returns.

use tantivy::{IndexWriter, TantivyDocument, TantivyError};

use super::{TantivyEngine, engine_err};
use crate::SearchError;

const WRITER_MEMORY_BYTES: usize = 50_000_000;

impl TantivyEngine {
    /// Runs `f` on the writer, creating it first if this engine has none yet. Fails with
    /// [`SearchError::Engine`] when another engine or process holds the index's writer lock.
    pub(super) fn with_writer<R>(
        &self,
        f: impl FnOnce(&mut IndexWriter<TantivyDocument>) -> Result<R, SearchError>,
    ) -> Result<R, SearchError> {
        let mut slot = self.writer.lock().map_err(|_| SearchError::Engine("index writer mutex poisoned".into()))?;
        if slot.is_none() {
            let writer = self.index.writer(WRITER_MEMORY_BYTES).map_err(|e| match e {
                TantivyError::LockFailure(..) => SearchError::Engine(format!(
                    "cannot write to the search index: its writer lock is held by another engine or process ({e}); \
                     tantivy allows one writer per index"
                )),
                e => engine_err(e),
            })?;
            *slot = Some(writer);
        }
        match slot.as_mut() {
            Some(writer) => f(writer),
            None => Err(SearchError::Engine("index writer missing".into())),
        }
    }

    /// Runs `ops` on the writer, commits and reloads the reader, all on a blocking thread.
    pub(super) async fn write(
        &self,
        ops: impl FnOnce(&IndexWriter<TantivyDocument>) -> tantivy::Result<()> + Send + 'static,
    ) -> Result<(), SearchError> {
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            engine.with_writer(|writer| {
                if let Err(e) = ops(writer).and_then(|()| writer.commit().map(|_| ())) {
                    let _ = writer.rollback();
                    return Err(engine_err(e));
                }
                Ok(())
            })?;
            engine.reload()
        })
        .await
        .map_err(engine_err)?
    }
}

/// Merges all searchable segments into one (blocking).
pub(super) fn merge_all(writer: &mut IndexWriter<TantivyDocument>) -> Result<(), SearchError> {
    // A background merge may hold some of the segments: retry with a fresh list.
    let mut attempts = 0;
    loop {
        let segments = writer.index().searchable_segment_ids().map_err(engine_err)?;
        if segments.len() <= 1 {
            return Ok(());
        }
        match writer.merge(&segments).wait() {
            Ok(_) => return Ok(()),
            Err(e) if attempts >= 100 => return Err(engine_err(e)),
            Err(e) => {
                tracing::debug!(error = %e, "compact: merge refused, retrying");
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}
