# orderly2 reads what push.R left on our server: metadata and searches, pulls
# of the whole chain into a file-store root and an archive root, a run whose
# dependency comes from the server, and the not-found errors.
# Input: url, file_store, archive, downstream (folders to create).
source(file.path(Sys.getenv("OUTPACK_R_DIR"), "helpers.R"))
url <- input$url

file_store <- input$file_store
orderly_init(file_store, path_archive = NULL, use_file_store = TRUE,
             require_complete_tree = TRUE)
orderly_location_add_http("ours", url, root = file_store)
orderly_location_fetch_metadata("ours", root = file_store)

report <- orderly_search(quote(latest(name == "report")), location = "ours",
                         allow_remote = TRUE, root = file_store)
data <- orderly_search(quote(name == "data" && parameter:label == "café"),
                       location = "ours", allow_remote = TRUE, root = file_store)
record("search", list(report = report, data = as.list(data)))

meta <- orderly_metadata(data[[1]], root = file_store)
record("metadata", list(
  display = meta$custom$orderly$description$display,
  long = meta$custom$orderly$description$long,
  label = meta$parameters$label,
  report_depends = as.list(orderly_metadata(report, root = file_store)$depends$packet)))

record("pulled_file_store", as.list(orderly_location_pull(report, root = file_store)))

archive <- input$archive
orderly_init(archive)
orderly_location_add_http("ours", url, root = archive)
record("pulled_archive", as.list(orderly_location_pull(
  quote(latest(name == "report")), location = "ours", fetch_metadata = TRUE,
  recursive = TRUE, root = archive)))

downstream <- input$downstream
orderly_init(downstream)
add_report(downstream, "downstream")
orderly_location_add_http("ours", url, root = downstream)
record("downstream", orderly_run("downstream", location = "ours", allow_remote = TRUE,
                                 fetch_metadata = TRUE, echo = FALSE, root = downstream))

driver <- http_driver(url)
record("not_found", list(
  metadata = error_of(driver$metadata("id-missing")),
  metadata_well_formed = error_of(driver$metadata("20200101-000000-00000000")),
  file = error_of(driver$fetch_file("md5:abc123", tempfile())),
  file_well_formed = error_of(driver$fetch_file(
    orderly_hash_data("on no server", "sha256"), tempfile()))))

finish()
