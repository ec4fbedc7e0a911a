# Helpers shared by the setup scripts; source it, don't run it.

# True when at least one path matches the glob pattern.
have_file() {
  compgen -G "$1" > /dev/null
}

# apt_install WHO PACKAGE...: installs the Debian packages, through sudo when
# not root and sudo exists; WHO names the calling script in the message.
apt_install() {
  local who=$1
  shift
  echo "$who: installing $*"
  local sudo=()
  if [ "$(id -u)" -ne 0 ] && command -v sudo > /dev/null; then
    sudo=(sudo)
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}
