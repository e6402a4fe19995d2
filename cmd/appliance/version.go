package main

import "runtime/debug"

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "appliance (unknown build)"
	}
	v := "appliance " + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v + " " + info.GoVersion
}
