"""Accounts and qualifications routes, included under /api/v1/."""

from django.urls import path

from marketplace.accounts import api, api_qualifications as quals

urlpatterns = [
    path("auth/signup/", api.Signup.as_view(), name="auth-signup"),
    path("auth/token/", api.TokenObtain.as_view(), name="auth-token"),
    path("me/", api.Me.as_view(), name="me"),
    path("me/tokens/", api.MeTokens.as_view(), name="me-tokens"),
    path("me/tokens/<int:token_id>/", api.MeTokenDetail.as_view(), name="me-token-detail"),
    path("me/qualifications/", quals.MeQualifications.as_view(), name="me-qualifications"),
    path("admins/", api.Admins.as_view(), name="admin-create"),
    path("organization/members/", api.OrganizationMembers.as_view(), name="organization-members"),
    path("qualifications/", quals.QualificationListCreate.as_view(), name="qualification-list"),
    path("qualifications/<int:qualification_id>/", quals.QualificationDetail.as_view(),
         name="qualification-detail"),
    path("qualifications/<int:qualification_id>/questions/", quals.QualificationQuestions.as_view(),
         name="qualification-questions"),
    path("qualifications/<int:qualification_id>/exam/", quals.QualificationExam.as_view(),
         name="qualification-exam"),
    path("qualifications/<int:qualification_id>/grants/", quals.QualificationGrants.as_view(),
         name="qualification-grants"),
    path("qualifications/<int:qualification_id>/grants/<int:worker_id>/",
         quals.QualificationGrantDetail.as_view(), name="qualification-grant-detail"),
]
