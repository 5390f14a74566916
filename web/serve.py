"""Serves a folder on localhost with the MIME types a web app needs
(`.wasm` as application/wasm, the manifest as application/manifest+json).

    python3 web/serve.py DIR [PORT]
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".webmanifest": "application/manifest+json",
        ".onnx": "application/octet-stream",
        ".js": "text/javascript",
    }


def main():
    directory = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
    handler = functools.partial(Handler, directory=directory)
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {directory} on http://localhost:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
