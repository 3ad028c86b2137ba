# Convenience targets; each is a plain script underneath.
.PHONY: setup test demo dist install-desktop uninstall-desktop screenshots

setup:
	bash scripts/setup.sh
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh
# sdist + wheel + one-folder desktop bundle, each checked from outside the tree (several minutes)
dist:
	bash installer/build.sh
install-desktop:
	bash installer/linux/install.sh dist/bundle/voicemend
uninstall-desktop:
	bash installer/linux/uninstall.sh
screenshots:
	bash scripts/screenshots.sh
