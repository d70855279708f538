# prepare
