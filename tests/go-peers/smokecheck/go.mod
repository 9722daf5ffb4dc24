module krafty/go-peers/smokecheck

go 1.26.0
