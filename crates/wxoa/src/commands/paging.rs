//! Reading every page of an offset-paged list (drafts, published posts, materials).

use std::future::Future;

/// Call `fetch(offset)` until it returns an empty page or the total is reached; each call
/// answers the page's items and the list's total.
pub(crate) async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = anyhow::Result<(Vec<T>, u32)>>,
{
    let mut all = Vec::new();
    loop {
        let offset = u32::try_from(all.len()).unwrap_or(u32::MAX);
        let (items, total) = fetch(offset).await?;
        let got = items.len();
        all.extend(items);
        if got == 0 || all.len() >= total as usize {
            return Ok(all);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_followed_to_the_total() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let data: Vec<u32> = (0..45).collect();
        let mut offsets = Vec::new();
        let all = rt
            .block_on(all_pages(|offset| {
                offsets.push(offset);
                let page: Vec<u32> = data
                    .iter()
                    .skip(offset as usize)
                    .take(20)
                    .copied()
                    .collect();
                async move { Ok((page, 45)) }
            }))
            .unwrap();
        assert_eq!(all, data);
        assert_eq!(offsets, vec![0, 20, 40]);
    }
}
