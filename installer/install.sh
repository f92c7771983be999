#!/bin/sh
# install.sh [--user | --system | --prefix DIR] [--uninstall]
#
# Installs the packaged Alignment Workbench that sits beside this script (app/) with one command:
#   --user      into ~/.local (the default): ~/.local/bin/workbench, a desktop entry and an icon for you
#   --system    into /usr/local, for every user (run as root)
#   --prefix P  into P: P/lib/alignment-workbench/app, P/bin/workbench, P/share/applications, P/share/icons
#   --uninstall removes the app, the launcher, the desktop entry and the icon; keeps user data and extra plugins
#
# Installing over an existing install upgrades it in place. The new app is copied into a staging folder and
# switched in with one atomic rename; the launcher and then the desktop entry are written last, so an interrupted
# install leaves the previous version (or nothing) registered, and running the same command again completes it.
# Kept across upgrades and uninstall: $WORKBENCH_HOME (runs, your zoo; default ~/.local/share/workbench) and the
# extra plugins in P/lib/alignment-workbench/plugins.
set -eu

NAME=alignment-workbench
SRC="$(cd "$(dirname "$0")" && pwd)"
PREFIX="${HOME:-/root}/.local"
ACTION=install

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit "${2:-2}"; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --user) PREFIX="${HOME:-/root}/.local"; shift ;;
    --system) PREFIX=/usr/local; shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a folder"; PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#--prefix=}"; shift ;;
    --uninstall) ACTION=uninstall; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done
case "$PREFIX" in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac

LIB="$PREFIX/lib/$NAME"
BIN="$PREFIX/bin/workbench"
DESKTOP="$PREFIX/share/applications/$NAME.desktop"
ICON_SVG="$PREFIX/share/icons/hicolor/scalable/apps/$NAME.svg"
ICON_PNG="$PREFIX/share/icons/hicolor/256x256/apps/$NAME.png"

# Can we write there? Every folder we write into is created (or found) and probed before anything changes.
writable() {
  for dir in "$@"; do
    if ! mkdir -p "$dir" 2>/dev/null || ! ( : > "$dir/.install-probe" ) 2>/dev/null; then
      die "cannot write into $dir (read-only or not yours): install per user with --user (into ~/.local), \
choose another --prefix, or run as root for --system" 3
    fi
    rm -f "$dir/.install-probe"
  done
}

refresh_menus() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/share/applications" \
    2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$PREFIX/share/icons/hicolor" \
    2>/dev/null || true
}

# Writes a file atomically: into a temporary name beside it, then renamed over the target.
put() {  # put TARGET MODE < content
  tmp="$1.tmp.$$"
  cat > "$tmp" && chmod "$2" "$tmp" && mv -f "$tmp" "$1"
}

uninstall() {
  [ -e "$LIB/app" ] || [ -e "$BIN" ] || [ -e "$DESKTOP" ] || die "no Alignment Workbench installed in $PREFIX" 1
  writable "$LIB"
  rm -f "$DESKTOP"                              # unregister first: the menu never offers a half-removed app
  if [ -f "$BIN" ] && grep -q "$NAME" "$BIN"; then rm -f "$BIN"; fi
  rm -f "$ICON_SVG" "$ICON_PNG"
  rm -f "$LIB/app"
  for old in "$LIB"/app-* "$LIB"/.staging-*; do [ -e "$old" ] && rm -rf "$old"; done
  rm -f "$LIB/install.txt"
  if [ -d "$LIB/plugins" ] && [ -n "$(ls -A "$LIB/plugins")" ]; then
    say "kept your extra plugins in $LIB/plugins (remove the folder by hand if you no longer want them)"
  else
    rm -rf "$LIB/plugins"; rmdir "$LIB" 2>/dev/null || true
  fi
  refresh_menus
  say "removed Alignment Workbench from $PREFIX; kept your runs and models in \
\${WORKBENCH_HOME:-~/.local/share/workbench}"
}

install() {
  [ -x "$SRC/app/workbench" ] || die "no packaged app beside this script ($SRC/app/workbench is missing): run the \
install.sh inside an unpacked build folder" 1
  writable "$LIB" "$PREFIX/bin" "$PREFIX/share/applications" "$(dirname "$ICON_SVG")" "$(dirname "$ICON_PNG")"
  for old in "$LIB"/.staging-*; do [ -e "$old" ] && rm -rf "$old"; done   # what an interrupted install left
  stamp="$(date +%Y%m%d%H%M%S)-$$"
  staging="$LIB/.staging-$stamp"
  trap 'rm -rf "$staging" "$LIB/.app-link-$stamp"' EXIT
  trap 'exit 130' INT TERM HUP
  say "copying the app into $LIB ..."
  cp -R "$SRC/app" "$staging" || die "copying the app failed (disk full?); nothing was changed, run again to retry" 4
  previous="$(readlink "$LIB/app" 2>/dev/null || true)"
  mv "$staging" "$LIB/app-$stamp"
  ln -s "app-$stamp" "$LIB/.app-link-$stamp"
  mv -T "$LIB/.app-link-$stamp" "$LIB/app"      # the switch: one atomic rename of the link
  mkdir -p "$LIB/plugins"
  put "$BIN" 755 <<EOF
#!/bin/sh
# Alignment Workbench launcher, written by install.sh; extra plugins go into $LIB/plugins.
exec "$LIB/app/workbench" "\$@"
EOF
  cp "$SRC/workbench.svg" "$ICON_SVG.tmp.$$" && mv -f "$ICON_SVG.tmp.$$" "$ICON_SVG"
  cp "$SRC/workbench.png" "$ICON_PNG.tmp.$$" && mv -f "$ICON_PNG.tmp.$$" "$ICON_PNG"
  put "$DESKTOP" 644 <<EOF
[Desktop Entry]
Type=Application
Name=Alignment Workbench
Comment=Study how vision models align and where they break out of distribution
Exec=$BIN gui
Icon=$ICON_SVG
Terminal=false
Categories=Science;Education;
EOF
  printf 'app=%s\nversion=%s\n' "app-$stamp" "$("$LIB/app/workbench" --version 2>/dev/null || echo unknown)" \
    | put "$LIB/install.txt" 644
  for old in "$LIB"/app-*; do
    [ "$(basename "$old")" = "app-$stamp" ] || rm -rf "$old"
  done
  refresh_menus
  say "installed $(sed -n 's/^version=//p' "$LIB/install.txt") into $PREFIX${previous:+ (upgraded from $previous)}"
  case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) say "add $PREFIX/bin to your PATH to run 'workbench'" ;; esac
  say "extra plugins (wheels or unpacked packages): $LIB/plugins; runs and your models: \
\${WORKBENCH_HOME:-~/.local/share/workbench}"
}

"$ACTION"
