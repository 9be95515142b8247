# Its dependency comes from the server.
orderly_dependency("report", "latest", c("upstream.txt" = "report.txt"))
orderly_artefact(description = "Final", files = "final.txt")
writeLines(c("from the server:", readLines("upstream.txt")), "final.txt")
