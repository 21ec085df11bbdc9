#!/usr/bin/python3
# Django's command line for the dashboard, where RDO's openstack-dashboard put it: TCIB copies
# it to /usr/bin/manage.py, and the horizon image's start script runs collectstatic and
# compress with it.
import os
import sys

from django.core.management import execute_from_command_line

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openstack_dashboard.settings")
    execute_from_command_line(sys.argv)
