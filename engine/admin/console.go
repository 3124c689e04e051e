package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// assets holds the web console: plain HTML, CSS and JS with no external
// fetches, so the console works on an air-gapped broker.
//
//go:embed assets
var assets embed.FS

func serveIndex(w http.ResponseWriter, _ *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil { // cannot happen: the file is embedded at build time
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func assetHandler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return http.StripPrefix("/assets/", http.FileServerFS(sub))
}
