# Shared by every scenario: load orderly2 from the tests' library, read the
# scenario's input (JSON), collect what orderly2 did and write it as JSON for
# pytest, which makes the assertions.
#
# Usage: Rscript <scenario>.R <input.json> <output.json>
# Environment: ORDERLY2_LIB (the library holding orderly2), OUTPACK_R_DIR
# (this folder).

local({
  lib <- Sys.getenv("ORDERLY2_LIB")
  if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
})
suppressPackageStartupMessages(library(orderly2))
options(cli.progress_show_after = Inf, orderly.quiet = TRUE)

scenario_args <- commandArgs(trailingOnly = TRUE)
input <- jsonlite::read_json(scenario_args[[1]], simplifyVector = FALSE)
results <- list()

record <- function(name, value) {
  results[[name]] <<- value
  invisible(value)
}

# The message of the error `expr` raises, or NULL when it succeeds.
error_of <- function(expr) {
  tryCatch({
    force(expr)
    NULL
  }, error = function(e) conditionMessage(e))
}

# orderly2's own HTTP driver for a location (what orderly_location_* use).
http_driver <- function(url) {
  orderly2:::orderly_location_http$new(url)
}

# A request the scenario sends only to mark a point in the server's access log.
mark <- function(url, name) {
  req <- httr2::req_headers(httr2::request(url), "x-request-id" = name)
  invisible(httr2::req_perform(req))
}

# A report from reports/<name> copied into a root's src folder.
add_report <- function(root, name) {
  dest <- file.path(root, "src", name)
  dir.create(dest, recursive = TRUE, showWarnings = FALSE)
  invisible(file.copy(
    file.path(Sys.getenv("OUTPACK_R_DIR"), "reports", name, paste0(name, ".R")), dest))
}

finish <- function() {
  jsonlite::write_json(results, scenario_args[[2]], auto_unbox = TRUE,
                       null = "null", digits = NA, pretty = TRUE)
}
