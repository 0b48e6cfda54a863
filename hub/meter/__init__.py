"""The volume meter's hub side: daily accounting of what project servers send to browsers, alerts, enforcement."""
