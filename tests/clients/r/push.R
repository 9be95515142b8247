# orderly2 builds a dependency chain in its own root (archive, no file store)
# and pushes it to our server, which starts empty; then pushes again (nothing
# to send) and uploads a file and a packet under the wrong hashes.
# Input: url, source (a folder to create). Output: what orderly2 saw.
source(file.path(Sys.getenv("OUTPACK_R_DIR"), "helpers.R"))
url <- input$url
src <- input$source

orderly_init(src)
for (name in c("data", "model", "report")) add_report(src, name)
ids <- list(
  data = orderly_run("data", echo = FALSE, root = src),
  model = orderly_run("model", echo = FALSE, root = src),
  report = orderly_run("report", echo = FALSE, root = src),
  # The same files as the first 'data' packet, never pushed.
  unpushed = orderly_run("data", echo = FALSE, root = src))
record("ids", ids)

orderly_location_add_http("ours", url, root = src)
orderly_location_fetch_metadata("ours", root = src)
record("listed_before", as.list(orderly_search(
  quote(name == "data" || name == "report"),
  location = "ours", allow_remote = TRUE, root = src)))

plan <- orderly_location_push(ids$report, "ours", root = src)
record("first_push", list(packets = as.list(plan$packet_id), files = as.list(plan$files)))
record("listed_after", as.list(orderly_search(
  quote(name == "data" || name == "model" || name == "report"),
  location = "ours", allow_remote = TRUE, root = src)))

mark(url, "second-push")
plan <- orderly_location_push(c(ids$data, ids$model, ids$report), "ours", root = src)
record("second_push", list(packets = as.list(plan$packet_id), files = as.list(plan$files)))
mark(url, "second-push-done")

driver <- http_driver(url)
claimed <- orderly_hash_data("not these bytes", "sha256")
upload <- tempfile()
writeBin(charToRaw("bytes the server has never seen\n"), upload)
record("file_mismatch", list(
  claimed = claimed,
  actual = orderly_hash_file(upload, "sha256"),
  error = error_of(driver$push_file(upload, claimed))))
record("metadata_mismatch", list(
  claimed = claimed,
  error = error_of(driver$push_metadata(
    ids$unpushed, claimed, file.path(src, ".outpack", "metadata", ids$unpushed)))))

finish()
